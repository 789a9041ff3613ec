package io.replicador.publish;

import io.replicador.change.Identifiers;
import io.replicador.metrics.PublisherMetrics;
import io.replicador.store.ChangeLogReader;
import io.replicador.store.ClaimedBatch;
import io.replicador.store.PrimaryStore;
import io.replicador.store.PublisherFence;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Changes from the trigger changelog ({@link ChangeLogReader}): claims committed transactions,
 * publishes them, and deletes them once the broker confirmed. Sleeps on the doorbell ({@code LISTEN
 * replicador}) while changes come slowly, and polls, paced, while they come fast ({@link
 * ClaimPacer}); in origin mode also writes the origin design's NOTIFY payloads into the changelog
 * first. Runs on the publisher's one primary connection, on the publisher's thread.
 */
final class TriggerSource implements ChangeSource {
  private static final Logger log = LoggerFactory.getLogger(TriggerSource.class);
  private static final Duration VACUUM_EVERY = Duration.ofSeconds(10);
  private static final Duration CONFIRM_TIMEOUT = Duration.ofSeconds(60);

  /** How often a busy publisher looks for notifications (fence requests) in trigger mode. */
  private static final Duration LOOK_EVERY = Duration.ofMillis(100);

  /** What the publisher counts, for its callers and tests. Thread-safe. */
  static final class Stats {
    final AtomicLong shippedTransactions = new AtomicLong();
    final AtomicLong shippedChanges = new AtomicLong();
    final AtomicLong claims = new AtomicLong();
    volatile PublisherMetrics metrics = PublisherMetrics.none();
  }

  /** Sleeps unless stopping; false when stopping. */
  @FunctionalInterface
  interface Pauser {
    boolean pause(Duration d);
  }

  private final Connection pg;
  private final ChangeLogReader reader;
  private final PublisherSettings settings;
  private final Clock clock;
  private final Stats stats;
  private final Pauser pauser;
  private final BooleanSupplier running;
  private final BatchShipper shipper;

  /**
   * Whether to stop once the changelog is empty: the tables moved to the slot, and what the
   * triggers captured before must ship first.
   */
  private boolean draining;

  TriggerSource(
      Connection pg,
      ChangeLogReader reader,
      PublisherSettings settings,
      Clock clock,
      Stats stats,
      Pauser pauser,
      BooleanSupplier running,
      BatchShipper shipper,
      boolean draining) {
    this.pg = pg;
    this.reader = reader;
    this.settings = settings;
    this.clock = clock;
    this.stats = stats;
    this.pauser = pauser;
    this.running = running;
    this.shipper = shipper;
    this.draining = draining;
  }

  /** Listens for the doorbell and the origin channels; commits. */
  void listen() throws SQLException {
    try (Statement st = pg.createStatement()) {
      // The changelog's size swings from empty to a backlog and back, and its statistics lag
      // behind: a plan cached while it was empty scans the whole table. Planning each call costs
      // far less.
      st.execute("SET plan_cache_mode = force_custom_plan");
      st.execute("LISTEN " + PrimaryStore.DOORBELL_CHANNEL);
      for (String channel : settings.notifyChannels()) {
        st.execute("LISTEN " + Identifiers.quote(channel));
      }
    }
    pg.commit();
  }

  /**
   * Claims, publishes and settles batches, one at a time: the next claim waits for the broker's
   * confirms of the batch before, so it gathers what committed meanwhile, and deletes the confirmed
   * batch in its own commit; a busy publisher waits for the primary's disk once per batch.
   * (Claiming while a batch awaits its confirms made more, smaller batches for no gain; see
   * docs/performance.md.)
   */
  @Override
  public void ship() throws Exception {
    List<ClaimedBatch> inFlight = new ArrayList<>();
    Optional<ClaimedBatch> pending = reader.pending();
    if (pending.isPresent()) {
      log.info(
          "Resuming unfinished batch at positions {}..{}",
          pending.get().firstPosition(),
          pending.get().lastPosition());
      shipper.publish(pending.get());
      inFlight.add(pending.get());
    }
    // A publisher killed while idle leaves the doorbell armed. Under load this one may never be
    // quiet long enough to arm it and find it so: disarmed now, the writers pay no NOTIFY until
    // the stream is quiet.
    reader.armDoorbell(false);
    boolean armed = false;
    // armed: whether a ring (or the idle poll's end) came since the last claim. While the bell
    // is armed every writing transaction rings it, so there is nothing to claim without one.
    boolean rung = false;
    ClaimPacer pacer = new ClaimPacer(System.nanoTime());
    Instant lastVacuum = clock.instant();
    Instant lastLook = clock.instant();
    long vacuumedAt = 0;
    PGConnection notifications = pg.unwrap(PGConnection.class);
    OriginChangeWriter origin = new OriginChangeWriter(pg);
    boolean originMode = !settings.notifyChannels().isEmpty();
    while (running.getAsBoolean()) {
      // Origin payloads that arrived meanwhile go into the changelog before the next claim, so
      // they are not overtaken by changes captured after them. Otherwise notifications are rings
      // and fence requests: looking for them costs a wait on the socket, so a publisher that
      // polls looks now and then.
      if (originMode || clock.instant().isAfter(lastLook.plus(LOOK_EVERY))) {
        lastLook = clock.instant();
        rung |= handle(notifications.getNotifications(), origin, pg);
      }
      List<ClaimedBatch> shipped = shipper.confirmed(inFlight);
      // looked at after the confirms: the broker returns an unroutable message before it
      // confirms it, so a confirmed batch that came back is caught here
      if (shipper.returned()) {
        republish(shipper, inFlight);
        continue;
      }
      inFlight.removeAll(shipped);
      boolean room = inFlight.isEmpty();
      // without a claim, the confirmed batches are only deleted
      boolean claiming = room && (!armed || rung);
      if (claiming) {
        pauser.pause(pacer.waitBeforeClaim(System.nanoTime()));
        rung = false; // a ring from now on calls for another claim
      }
      long claimStart = System.nanoTime();
      Optional<ClaimedBatch> batch =
          reader.claim(settings.batchRows(), claiming ? 10_000 : 0, shipped, inFlight);
      count(shipper, shipped);
      if (claiming) {
        stats.metrics.claimed(System.nanoTime() - claimStart);
        pacer.claimed(System.nanoTime(), batch.map(b -> b.txids().size()).orElse(0));
        stats.claims.incrementAndGet();
        if (draining && batch.isEmpty() && inFlight.isEmpty()) {
          log.info("Shipped the trigger changelog's last changes; the slot takes over");
          break;
        }
      }
      if (batch.isPresent()) {
        if (armed && pacer.lively()) {
          reader.armDoorbell(false);
          armed = false;
        }
        shipper.publish(batch.get());
        inFlight.add(batch.get());
        continue;
      }
      if (inFlight.isEmpty()
          && reader.shippedRows() > vacuumedAt
          && clock.instant().isAfter(lastVacuum.plus(VACUUM_EVERY))) {
        // when idle: a VACUUM in a busy stream holds up every change behind it
        reader.vacuum();
        lastVacuum = clock.instant();
        vacuumedAt = reader.shippedRows();
      }
      if (!inFlight.isEmpty()) {
        if (!shipper.awaitConfirm(inFlight.get(0), room ? Duration.ofMillis(2) : CONFIRM_TIMEOUT)
            && !room) {
          throw new TimeoutException(
              "The broker did not confirm published changes within "
                  + CONFIRM_TIMEOUT.toSeconds()
                  + " s");
        }
        continue;
      }
      if (armed) {
        // a ring, or the idle poll's end: look (a writer may commit without ringing when it
        // looked at the bell just before it was armed)
        handle(notifications.getNotifications((int) settings.idlePoll().toMillis()), origin, pg);
        rung = true;
      } else if (claiming && pacer.quiet()) {
        reader.armDoorbell(true);
        armed = true;
        rung = true; // look once more: a writer may have seen the bell unarmed
      }
      // else: polling; the pacer spaces the claims
    }
    // stopping: settle what the broker has confirmed; the rest stays pending for the next one
    if (!inFlight.isEmpty()) {
      shipper.awaitConfirm(inFlight.get(inFlight.size() - 1), Duration.ofSeconds(5));
    }
    List<ClaimedBatch> shipped = shipper.confirmed(inFlight);
    inFlight.removeAll(shipped);
    reader.claim(0, 0, shipped, inFlight);
    count(shipper, shipped);
    if (armed) {
      // a bell nobody hears would cost each writer a NOTIFY; the next publisher claims at once
      reader.armDoorbell(false);
    }
  }

  /** Counts batches whose deletion was committed. */
  private void count(BatchShipper shipper, List<ClaimedBatch> shipped) {
    for (ClaimedBatch b : shipped) {
      long n = shipper.settled(b);
      stats.shippedTransactions.addAndGet(b.txids().size());
      stats.shippedChanges.addAndGet(n);
      stats.metrics.shipped(b.txids().size(), n);
      MDC.put("position", String.valueOf(b.lastPosition()));
      log.debug("Shipped positions {}..{} ({} changes)", b.firstPosition(), b.lastPosition(), n);
    }
  }

  /**
   * A message came back: no queue was bound, so nobody would get these changes. Waits until the
   * broker has answered for everything, then publishes the batches in flight again, in order and
   * with the same positions, until some queue takes them.
   */
  private void republish(BatchShipper shipper, List<ClaimedBatch> inFlight) throws Exception {
    if (!inFlight.isEmpty()
        && !shipper.awaitConfirm(inFlight.get(inFlight.size() - 1), CONFIRM_TIMEOUT)) {
      throw new TimeoutException(
          "The broker did not confirm published changes within "
              + CONFIRM_TIMEOUT.toSeconds()
              + " s");
    }
    log.warn(
        "No replica queue is bound to exchange '{}' yet; keeping positions {}..{} in the"
            + " changelog until a listener has declared its queue",
        settings.exchange(),
        inFlight.isEmpty() ? "?" : inFlight.get(0).firstPosition(),
        inFlight.isEmpty() ? "?" : inFlight.get(inFlight.size() - 1).lastPosition());
    if (!pauser.pause(Duration.ofSeconds(5))) {
      throw new InterruptedException("stopping with batches unshipped (they stay pending)");
    }
    shipper.republish(inFlight);
  }

  /**
   * Writes the origin payloads among the notifications to the changelog and answers fence requests
   * ({@link PublisherFence}); a plain doorbell carries no data, waking up is all it is for. Returns
   * whether anything came: a ring, or changes written.
   */
  private boolean handle(PGNotification[] received, OriginChangeWriter origin, Connection pg)
      throws SQLException {
    if (received == null || received.length == 0) {
      return false;
    }
    List<PGNotification> payloads = new ArrayList<>();
    List<String> fences = new ArrayList<>();
    for (PGNotification n : received) {
      if (n.getName().equals(PrimaryStore.DOORBELL_CHANNEL)) {
        if (n.getParameter().equals(PrimaryStore.CAPTURE_CHANGED)) {
          // the triggers are gone (install --capture wal): the changelog gets no more rows
          draining = true;
        } else if (n.getParameter().startsWith(PublisherFence.REQUEST_PREFIX)) {
          fences.add(n.getParameter().substring(PublisherFence.REQUEST_PREFIX.length()));
        }
      } else if (settings.notifyChannels().contains(n.getName())) {
        payloads.add(n);
      }
    }
    origin.write(payloads);
    // Notifications arrive in commit order, so everything queued before a fence request is
    // written now: answer it (install --replace-trigger waits for this).
    PublisherFence.answer(pg, fences);
    return true;
  }
}
