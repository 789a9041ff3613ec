package io.replicador.publish;

import java.time.Duration;

/**
 * Spaces the publisher's claims under heavy load. Each batch costs the primary, the broker and
 * every replica about the same whatever its size, so above {@link #BUSY_RATE} transactions per
 * millisecond, averaged over {@link #WINDOW}, claims come at most every {@link #BUSY_INTERVAL}:
 * fewer, larger batches leave the writers more of the machine. Below that rate (1,000
 * transactions per second included) the next claim follows the last batch's confirms at once, for
 * the lowest lag. The window keeps a burst of a few transactions from counting: over one claim
 * cycle of a few milliseconds, arrivals at 1,000 per second often reach the rate.
 *
 * <p>Times are {@link System#nanoTime()} values, passed in. Not thread-safe.
 */
final class ClaimPacer {
  static final double BUSY_RATE = 2.0;
  static final Duration WINDOW = Duration.ofMillis(100);
  static final Duration BUSY_INTERVAL = Duration.ofMillis(50);

  private long lastClaim;
  private long windowStart;
  private int windowFound;
  private boolean busy;

  ClaimPacer(long now) {
    lastClaim = now;
    windowStart = now;
  }

  /** How long to wait before claiming: nothing unless the stream is busy. */
  Duration waitBeforeClaim(long now) {
    return busy ? Duration.ofNanos(Math.max(0, lastClaim + BUSY_INTERVAL.toNanos() - now))
        : Duration.ZERO;
  }

  /** Records a claim made at {@code now} that found {@code transactions}. */
  void claimed(long now, int transactions) {
    lastClaim = now;
    windowFound += transactions;
    if (now - windowStart >= WINDOW.toNanos()) {
      busy = windowFound > BUSY_RATE * (now - windowStart) / 1e6;
      windowStart = now;
      windowFound = 0;
    }
  }
}
