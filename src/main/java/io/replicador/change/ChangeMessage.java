package io.replicador.change;

import java.util.List;

/**
 * What one broker message carries: either several whole source transactions, or one part of a large
 * one.
 *
 * @param source identifies the primary's changelog; positions count per source
 */
public record ChangeMessage(String source, List<SourceTransaction> transactions) {
  public ChangeMessage {
    transactions = List.copyOf(transactions);
  }
}
