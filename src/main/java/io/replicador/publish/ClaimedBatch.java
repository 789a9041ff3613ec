package io.replicador.publish;

import java.util.List;

/**
 * Source transactions claimed for publishing, durably recorded on the primary before any message
 * leaves. Transaction {@code i} of {@link #txids} gets position {@code firstPosition + i}.
 */
public record ClaimedBatch(long firstPosition, List<String> txids) {
  public ClaimedBatch {
    txids = List.copyOf(txids);
  }

  public long lastPosition() {
    return firstPosition + txids.size() - 1;
  }
}
