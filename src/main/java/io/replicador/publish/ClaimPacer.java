package io.replicador.publish;

import java.time.Duration;

/**
 * Paces the publisher's claims and tells it when to arm the doorbell, from the rate at which its
 * claims find transactions, averaged over {@link #WINDOW}.
 *
 * <p>Every claim cycle costs about the same whatever it carries: the claim and the read on the
 * primary (about a millisecond of its CPU), a message through the broker, a transaction on each
 * replica. So claims come at most every {@link #INTERVAL} (a transaction waits for its claim half
 * of that on average), and at most every {@link #BUSY_INTERVAL} above {@link #BUSY_RATE}
 * transactions per millisecond, where fewer, larger batches leave the writers more of the machine.
 *
 * <p>Below {@link #QUIET_RATE} the doorbell is worth arming: each writing transaction then pays a
 * NOTIFY, which at that rate costs the writers nothing they would notice, and the publisher claims
 * when rung instead of looking every few milliseconds for changes that mostly are not there
 * (looking costs as much as claiming). From {@link #LIVELY_RATE} on it is disarmed again, since a
 * NOTIFY holds a database-wide lock through its transaction's commit. The window keeps a burst of a
 * few transactions from counting.
 *
 * <p>Times are {@link System#nanoTime()} values, passed in. Not thread-safe.
 */
final class ClaimPacer {
  static final Duration WINDOW = Duration.ofMillis(100);
  static final Duration INTERVAL = Duration.ofMillis(5);
  static final Duration BUSY_INTERVAL = Duration.ofMillis(50);

  /** Transactions per millisecond. */
  static final double BUSY_RATE = 2.0;

  static final double QUIET_RATE = 0.25;
  static final double LIVELY_RATE = 0.5;

  private long lastClaim;
  private long windowStart;
  private int windowFound;

  /** The rate of the last full window, in transactions per millisecond; none yet: not quiet. */
  private double rate = LIVELY_RATE;

  ClaimPacer(long now) {
    lastClaim = now - BUSY_INTERVAL.toNanos();
    windowStart = now;
  }

  /** How long to wait before claiming: the rest of the interval since the last claim. */
  Duration waitBeforeClaim(long now) {
    Duration interval = rate > BUSY_RATE ? BUSY_INTERVAL : INTERVAL;
    return Duration.ofNanos(Math.max(0, lastClaim + interval.toNanos() - now));
  }

  /** Records a claim made at {@code now} that found {@code transactions}. */
  void claimed(long now, int transactions) {
    lastClaim = now;
    windowFound += transactions;
    if (now - windowStart >= WINDOW.toNanos()) {
      rate = windowFound / ((now - windowStart) / 1e6);
      windowStart = now;
      windowFound = 0;
    }
  }

  /** Whether an unarmed doorbell should be armed once a claim comes up empty. */
  boolean quiet() {
    return rate < QUIET_RATE;
  }

  /** Whether an armed doorbell should be disarmed. */
  boolean lively() {
    return rate >= LIVELY_RATE;
  }
}
