package io.replicador.change;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * A snapshot of the primary as {@code pg_current_snapshot()} prints it ({@code xmin:xmax:xip,...},
 * 64-bit transaction ids): which transactions had committed when a snapshot copied a table. A
 * change of a transaction that the snapshot includes is already in the copy, so a replica skips it
 * for that table, and applies every other. Immutable.
 */
public final class PrimarySnapshot {
  private final String text;
  private final long xmin;
  private final long xmax;
  private final Set<Long> inProgress;

  private PrimarySnapshot(String text, long xmin, long xmax, Set<Long> inProgress) {
    this.text = text;
    this.xmin = xmin;
    this.xmax = xmax;
    this.inProgress = inProgress;
  }

  /** Parses the text form; fails on anything else. */
  public static PrimarySnapshot parse(String text) {
    String[] parts = text.split(":", -1);
    if (parts.length != 3) {
      throw new IllegalArgumentException("Not a snapshot (xmin:xmax:xip): " + text);
    }
    try {
      Set<Long> xip = new HashSet<>();
      if (!parts[2].isEmpty()) {
        Arrays.stream(parts[2].split(",")).map(Long::parseLong).forEach(xip::add);
      }
      return new PrimarySnapshot(text, Long.parseLong(parts[0]), Long.parseLong(parts[1]), xip);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("Not a snapshot (xmin:xmax:xip): " + text, e);
    }
  }

  /**
   * Whether the transaction had committed when the snapshot was taken. False for an id that is not
   * a number (a source that sends none): such changes are applied, which converges since applying
   * is idempotent per row.
   */
  public boolean includes(String xid) {
    if (xid == null || xid.isEmpty()) {
      return false;
    }
    long x;
    try {
      x = Long.parseLong(xid);
    } catch (NumberFormatException e) {
      return false;
    }
    return x < xmin || (x < xmax && !inProgress.contains(x));
  }

  @Override
  public String toString() {
    return text;
  }
}
