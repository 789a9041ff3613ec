package io.replicador.verify;

import io.replicador.store.PrimaryStore;
import io.replicador.store.ReplicaStore;
import io.replicador.store.WalCaptureStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Waits until a replica has applied every transaction the primary had committed when the wait
 * began.
 *
 * <p>Positions are handed out by the publisher when it claims transactions, and changelog rows are
 * deleted only once the broker confirmed them. So: (1) note the primary's snapshot and the highest
 * changelog id, in one statement; (2) wait until no changelog row of a transaction visible in that
 * snapshot (committed by then) is left: all of them have positions and are in the broker.
 * Transactions committed later do not hold the wait up, nor do open ones (their rows were
 * invisible). (3) Read the highest position handed out so far; every transaction of step 1 has one
 * at most that high. (4) Wait until the replica's applied position for this primary's source
 * reaches it (positions are gap-free and applied in order). Under load the target can include a few
 * later transactions; the wait ends as soon as the replica keeps up with them. Uses the caller's
 * connections (autocommit on); blocks, polling every {@link #POLL}.
 */
final class CatchUpWaiter {
  private static final Duration POLL = Duration.ofMillis(200);

  private final Connection primary;
  private final Connection replica;
  private final String consumer;
  private final Clock clock;

  CatchUpWaiter(Connection primary, Connection replica, String consumer, Clock clock) {
    this.primary = primary;
    this.replica = replica;
    this.consumer = consumer;
    this.clock = clock;
  }

  void await(Duration timeout) throws SQLException, InterruptedException, VerifyException {
    Instant deadline = clock.instant().plus(timeout);
    PrimaryStore store = new PrimaryStore(primary, "the primary");
    String why =
        "the publisher has not shipped the changes committed on the primary before verify"
            + " started; is 'replicador publish' running?";
    WalCaptureStore wal = new WalCaptureStore(primary);
    Optional<WalCaptureStore.WalCapture> slot = wal.find();
    String source;
    if (slot.isPresent()) {
      // capture from the WAL: the publisher confirms a position to the slot once everything
      // before it is shipped
      source = store.sourceId();
      long since = wal.mark();
      while (wal.slot(slot.get().slot()).map(WalCaptureStore.Slot::confirmedLsn).orElse(0L)
          < since) {
        pause(deadline, timeout, why);
      }
    } else {
      PrimaryStore.Horizon horizon = store.horizon();
      source = horizon.source();
      while (store.unshipped(horizon)) {
        pause(deadline, timeout, why);
      }
    }
    long target = store.lastPosition();
    while (true) {
      // of the named listener, or the one furthest behind (all of them must have caught up)
      Optional<ReplicaStore.ConsumerPosition> applied =
          ReplicaStore.furthestBehind(replica, source, consumer);
      if (target == 0 || (applied.isPresent() && applied.get().position() >= target)) {
        return;
      }
      String who =
          applied
              .map(a -> "listener " + a.consumer())
              .orElse(consumer == null ? "no listener" : "listener " + consumer);
      pause(
          deadline,
          timeout,
          who
              + " applied position "
              + (applied.isPresent() ? applied.get().position() : "none")
              + " of source "
              + source
              + ", needs "
              + target
              + "; is 'replicador listen' running for it? (a replica name no"
              + " longer in use can be named with verify --name)");
    }
  }

  private void pause(Instant deadline, Duration timeout, String why)
      throws InterruptedException, VerifyException {
    if (!clock.instant().isBefore(deadline)) {
      throw new VerifyException(
          "The replica did not catch up within " + timeout.toSeconds() + " s: " + why);
    }
    Thread.sleep(POLL.toMillis());
  }
}
