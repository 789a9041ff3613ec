package io.replicador.broker;

import java.util.OptionalLong;

/**
 * Where a replica resumes reading the stream, and whether the stream still holds it. Pure logic;
 * immutable.
 *
 * @param saved the offset of the last message the replica processed (applied or dead-lettered), as
 *     its bookkeeping recorded it in the transaction that applied it; -1 when it has none
 */
public record StreamResume(long saved) {
  /** A replica that has read nothing yet: it starts at the stream's first retained message. */
  public static final StreamResume FROM_FIRST = new StreamResume(-1);

  /** The offset the replica needs next, or -1 when any (it starts at the first retained). */
  public long expected() {
    return saved < 0 ? -1 : saved + 1;
  }

  /** The {@code x-stream-offset} consumer argument: the expected offset, or "first". */
  public Object startArgument() {
    return saved < 0 ? "first" : (Object) (saved + 1);
  }

  /**
   * Whether a delivery at {@code offset} is one the replica processed already: RabbitMQ delivers
   * from the start of the chunk holding the requested offset.
   */
  public boolean alreadyProcessed(long offset) {
    return offset >= 0 && offset <= saved;
  }

  /**
   * Why the replica cannot go on when the first delivery it needs is at {@code firstDelivered}
   * (retention dropped what lay between), or null when that is the one it expects.
   */
  public String gap(String stream, long firstDelivered) {
    if (saved < 0 || firstDelivered <= expected()) {
      return null;
    }
    return "its next position in stream '"
        + stream
        + "' (offset "
        + expected()
        + ") was dropped by the stream's retention; the stream now starts at offset "
        + firstDelivered;
  }

  /**
   * Why the replica cannot go on when the stream ends at {@code end} (empty when it holds nothing):
   * a stream that once held the saved offset always does, since retention keeps the segment being
   * written, so one that ends before it was deleted and made again.
   */
  public String recreated(String stream, OptionalLong end) {
    if (saved < 0 || (end.isPresent() && end.getAsLong() >= saved)) {
      return null;
    }
    return "stream '"
        + stream
        + "' "
        + (end.isPresent() ? "ends at offset " + end.getAsLong() : "is empty")
        + " but this replica had read it up to offset "
        + saved
        + ": it was deleted and made again, and the changes between are not in it";
  }

  /**
   * Why a replica that has applied nothing (no snapshot, no saved offset) cannot start with the
   * stream's first change message, at {@code offset}, holding {@code position} of {@code source}:
   * positions count from 1, so a later one means the changes before it are not in the stream. Null
   * when it is the source's first.
   */
  public static String beginningGap(String stream, long offset, String source, long position) {
    if (position <= 1) {
      return null;
    }
    return "this replica has applied nothing, and the first change message of stream '"
        + stream
        + "' (offset "
        + offset
        + ") holds position "
        + position
        + " of source "
        + source
        + ": the changes before it were dropped by the stream's retention (or published before"
        + " the stream existed)";
  }

  @Override
  public String toString() {
    return saved < 0 ? "from the first offset" : "at offset " + expected();
  }
}
