package io.replicador.status;

import java.util.List;

/**
 * The primary's side: what waits to be shipped and who ships it. Nullable fields are null when
 * unknown or not applicable.
 *
 * @param backlogChanges row changes not yet shipped (committed, not confirmed by the broker)
 * @param backlogTransactions distinct source transactions among them
 * @param oldestAgeTransactions how many transactions the server started since the oldest waiting
 *     change's transaction (cheap, always known)
 * @param oldestAgeSeconds seconds since the oldest waiting change's transaction committed; known
 *     only with {@code track_commit_timestamp = on}
 * @param lastPosition the last position the publisher handed out (0 before the first)
 * @param pendingFrom first position of a batch claimed but not yet confirmed, or null
 * @param publisher the session holding the publisher lock, or null when no publisher is active
 * @param activeBy the publisher's own name for itself, as it last recorded it
 * @param standbys the sessions of publishers waiting as hot standby
 * @param slot the logical replication slot, where capture is from the WAL; else null
 */
public record PrimaryStatus(
    String address,
    String source,
    long backlogChanges,
    long backlogTransactions,
    Long oldestAgeTransactions,
    Double oldestAgeSeconds,
    long lastPosition,
    Long pendingFrom,
    PublisherSession publisher,
    String activeBy,
    String activeSince,
    List<PublisherSession> standbys,
    SlotStatus slot) {
  public PrimaryStatus {
    standbys = List.copyOf(standbys);
  }

  /**
   * The slot of capture from the WAL.
   *
   * @param walStatus the server's word: reserved, extended, unreserved, or lost (invalidated)
   * @param retainedBytes WAL the server keeps for the slot
   * @param unconfirmedBytes WAL written since the publisher last confirmed a position
   * @param lastShippedSecondsAgo since the publisher last shipped a batch from it; null before
   * @param reading whether a publisher reads it now
   * @param warning what needs attention, or null
   */
  public record SlotStatus(
      String name,
      String walStatus,
      long retainedBytes,
      long unconfirmedBytes,
      Double lastShippedSecondsAgo,
      boolean reading,
      String warning) {}

  /** The database session of the active publisher. */
  public record PublisherSession(
      int pid, String applicationName, String clientAddress, String backendStart) {}
}
