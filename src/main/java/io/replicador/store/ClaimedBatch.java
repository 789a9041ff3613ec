package io.replicador.store;

import java.util.List;

/**
 * Source transactions claimed for publishing, durably recorded on the primary before any message
 * leaves. Transaction {@code i} of {@link #txids} gets position {@code firstPosition + i}.
 *
 * @param rows the number of changelog rows of each transaction
 * @param lowId the lowest changelog id among them
 * @param highId the highest changelog id among them
 */
public record ClaimedBatch(
    long firstPosition, List<String> txids, List<Long> rows, long lowId, long highId) {
  public ClaimedBatch {
    txids = List.copyOf(txids);
    rows = List.copyOf(rows);
  }

  public long lastPosition() {
    return firstPosition + txids.size() - 1;
  }
}
