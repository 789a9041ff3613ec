package io.replicador.publish;

import io.replicador.store.ChangeLogReader;
import io.replicador.store.PrimaryStore;
import io.replicador.store.ClaimedBatch;
import io.replicador.store.LargeRowReader;
import com.rabbitmq.client.AMQP;
import io.replicador.Failures;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.replicador.broker.Topology;
import io.replicador.capture.CaptureInstaller;
import io.replicador.capture.PublisherFence;
import io.replicador.change.Identifiers;
import io.replicador.change.ChangeMessage;
import io.replicador.codec.ChangeMessageCodec;
import io.replicador.config.ConfigException;
import io.replicador.schema.TableCatalog;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ships committed changes from the primary's changelog to the exchange.
 *
 * <p>One PostgreSQL connection serves LISTEN and reading. A batch is claimed (positions recorded
 * on the primary), published with confirms, and only then deleted. A second publisher waits on
 * the advisory lock as a hot standby. {@link #run} blocks until {@link #close} is called;
 * connection failures are retried with backoff. Thread-safe for {@code close} from another
 * thread.
 *
 * <p>With {@link PublisherSettings#notifyChannels()} set, the active publisher also LISTENs on
 * those channels for the origin design's row payloads and writes each one into the changelog
 * ({@link OriginChangeWriter}) before it claims the next batch, so they ship like captured
 * changes. It creates the {@code replicador} schema for that if it is missing (no triggers).
 */
public final class ChangePublisher implements Runnable, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ChangePublisher.class);
  static final String DOORBELL_CHANNEL = "replicador";
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
  private static final Duration VACUUM_EVERY = Duration.ofSeconds(10);
  private static final Duration CONFIRM_TIMEOUT = Duration.ofSeconds(60);
  /** How often a busy publisher looks for notifications (fence requests) in trigger mode. */
  private static final Duration LOOK_EVERY = Duration.ofMillis(100);
  /**
   * Batches published and not yet confirmed, at most. One: each claim is a commit the primary
   * must flush, and claiming while a batch awaits its confirms makes more, smaller batches.
   * Waiting for the confirms lets the next claim gather what committed meanwhile, and delete the
   * confirmed batch in the same commit. Four in flight made no difference beyond the noise in
   * the primary's TPS, lag or fan-out (docs/performance.md), so the simpler one stays.
   */
  private static final int MAX_IN_FLIGHT = 1;

  private final PublisherSettings settings;
  private final ChangeMessageCodec codec = new ChangeMessageCodec();
  private final Clock clock = Clock.systemUTC();
  private final String identity;
  private volatile ConfigException refused;
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final AtomicBoolean active = new AtomicBoolean();
  private final AtomicLong shippedTransactions = new AtomicLong();
  private final AtomicLong shippedChanges = new AtomicLong();
  private final AtomicLong claims = new AtomicLong();
  private volatile Thread runner;

  public ChangePublisher(PublisherSettings settings) {
    this.settings = settings;
    this.identity = hostName() + ":" + ProcessHandle.current().pid();
  }

  @Override
  public void run() {
    runner = Thread.currentThread();
    Duration backoff = Duration.ofSeconds(1);
    try {
      while (running.get()) {
        long shippedBefore = shippedTransactions.get();
        try {
          session();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        } catch (ConfigException e) {
          refused = e; // waiting does not install or upgrade capture: stop and say why
          break;
        } catch (Exception e) {
          if (!running.get()) {
            break;
          }
          if (shippedTransactions.get() > shippedBefore) {
            backoff = Duration.ofSeconds(1); // it worked for a while: start the backoff over
          }
          log.warn(
              "Publisher lost its connection or failed ({}); retrying in {} s",
              Failures.describe(e),
              backoff.toSeconds());
          log.debug("Publisher failure", e);
          if (!pause(backoff)) {
            break;
          }
          backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0
              ? MAX_BACKOFF
              : backoff.multipliedBy(2);
        }
      }
    } finally {
      active.set(false);
      stopped.countDown();
    }
  }

  private void session() throws Exception {
    try (java.sql.Connection pg = settings.primary().connect("replicador-publish")) {
      pg.setAutoCommit(false);
      if (!settings.notifyChannels().isEmpty()) {
        // origin mode needs the changelog and publisher state, not triggers on user tables
        new CaptureInstaller(pg).installSchema();
      }
      ChangeLogReader reader = new ChangeLogReader(pg, 100_000);
      waitForLock(reader);
      if (!running.get()) {
        return;
      }
      PrimaryStore store = new PrimaryStore(pg, settings.primary().toString());
      store.requireCurrent();
      String source = store.sourceId();
      try (java.sql.Statement st = pg.createStatement()) {
        // The changelog's size swings from empty to a backlog and back, and its statistics lag
        // behind: a plan cached while it was empty scans the whole table (on a busy primary,
        // 2,300 pages per claim instead of a few dozen). Planning each call costs far less.
        st.execute("SET plan_cache_mode = force_custom_plan");
        st.execute("LISTEN " + DOORBELL_CHANNEL);
        for (String channel : settings.notifyChannels()) {
          st.execute("LISTEN " + Identifiers.quote(channel));
        }
      }
      pg.commit();
      try (Connection amqp = settings.broker().factory().newConnection("replicador-publish:" + settings.exchange());
          Channel channel = amqp.createChannel()) {
        // A broker short of memory or disk blocks publishing until its alarm clears: say so, or
        // the publisher just stands still
        amqp.addBlockedListener(
            reason ->
                log.warn(
                    "Broker {} blocks publishing ({}); changes wait in the changelog until it"
                        + " resumes",
                    settings.broker(),
                    reason),
            () -> log.info("Broker {} accepts publishing again", settings.broker()));
        Topology.declareExchange(channel, settings.exchange());
        channel.confirmSelect();
        Confirms confirms = new Confirms();
        channel.addConfirmListener(confirms);
        channel.addReturnListener(r -> confirms.markReturned());
        active.set(true);
        log.info(
            "Publisher {} active on {}: shipping source {} to exchange '{}' at {}",
            identity,
            settings.primary(),
            source,
            settings.exchange(),
            settings.broker());
        if (!settings.notifyChannels().isEmpty()) {
          log.info(
              "Also listening for origin-design row payloads on channel(s) {}; notifications sent"
                  + " while no publisher listens are lost (see docs/origin-notify-mode.md)",
              settings.notifyChannels());
        }
        loop(pg, reader, new Shipper(channel, confirms, source, reader, pg));
      } finally {
        active.set(false);
      }
    }
  }

  private void waitForLock(ChangeLogReader reader) throws SQLException, InterruptedException {
    boolean announced = false;
    while (running.get() && !reader.tryLock(identity)) {
      if (!announced) {
        log.info(
            "Another publisher ({}) is active on {}; waiting as hot standby",
            reader.activePublisher(),
            settings.primary());
        announced = true;
      }
      if (!pause(Duration.ofSeconds(1))) {
        return;
      }
    }
  }

  /**
   * Claims, publishes and settles batches. Publishing is pipelined: the next batch is claimed
   * and published while earlier ones await the broker's confirms (up to {@link #MAX_IN_FLIGHT}
   * batches), and confirmed batches are deleted in the transaction of the next claim, so a busy
   * publisher waits for the primary's disk once per batch.
   */
  private void loop(java.sql.Connection pg, ChangeLogReader reader, Shipper shipper)
      throws Exception {
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
    while (running.get()) {
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
        shipper.republish(inFlight);
        continue;
      }
      inFlight.removeAll(shipped);
      boolean room = inFlight.size() < MAX_IN_FLIGHT;
      // without a claim, the confirmed batches are only deleted
      boolean claiming = room && (!armed || rung);
      if (claiming) {
        pause(pacer.waitBeforeClaim(System.nanoTime()));
        rung = false; // a ring from now on calls for another claim
      }
      Optional<ClaimedBatch> batch =
          reader.claim(settings.batchRows(), claiming ? 10_000 : 0, shipped, inFlight);
      shipper.count(shipped);
      if (claiming) {
        pacer.claimed(System.nanoTime(), batch.map(b -> b.txids().size()).orElse(0));
        claims.incrementAndGet();
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
                  + CONFIRM_TIMEOUT.toSeconds() + " s");
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
    shipper.count(shipped);
    if (armed) {
      // a bell nobody hears would cost each writer a NOTIFY; the next publisher claims at once
      reader.armDoorbell(false);
    }
  }

  /**
   * Writes the origin payloads among the notifications to the changelog and answers fence
   * requests ({@link PublisherFence}); a plain doorbell carries no data, waking up is all it is
   * for. Returns whether anything came: a ring, or changes written.
   */
  private boolean handle(
      PGNotification[] received, OriginChangeWriter origin, java.sql.Connection pg)
      throws SQLException {
    if (received == null || received.length == 0) {
      return false;
    }
    List<PGNotification> payloads = new ArrayList<>();
    List<String> fences = new ArrayList<>();
    for (PGNotification n : received) {
      if (n.getName().equals(DOORBELL_CHANNEL)) {
        if (n.getParameter().startsWith(PublisherFence.REQUEST_PREFIX)) {
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

  /** Publishes claimed batches and tracks the broker's confirms. */
  private final class Shipper {
    private final Channel channel;
    private final Confirms confirms;
    private final String source;
    private final ChangeLogReader reader;
    private final RelationCache relations;
    private final LargeRowReader largeRows;
    private final Map<ClaimedBatch, Long> lastSequence = new java.util.IdentityHashMap<>();
    private final Map<ClaimedBatch, Long> changes = new java.util.IdentityHashMap<>();

    Shipper(
        Channel channel,
        Confirms confirms,
        String source,
        ChangeLogReader reader,
        java.sql.Connection pg) {
      this.channel = channel;
      this.confirms = confirms;
      this.source = source;
      this.reader = reader;
      this.relations = new RelationCache(new TableCatalog(pg), clock);
      this.largeRows = new LargeRowReader(pg);
    }

    /** Reads the batch from the changelog and publishes it, without waiting for confirms. */
    void publish(ClaimedBatch batch) throws Exception {
      AtomicLong count = new AtomicLong();
      MessageAssembler assembler =
          new MessageAssembler(
              source,
              batch.firstPosition(),
              settings.messageChanges(),
              settings.messageBytes(),
              this::publish);
      reader.read(
          batch,
          row -> {
            if (row.large()) {
              relations.toChanges(
                  row, largeRows, (change, bytes) -> assembler.add(row.txid(), change, bytes));
            } else {
              assembler.add(row.txid(), relations.toChange(row), row.approximateBytes());
            }
            count.incrementAndGet();
          });
      long last = assembler.finish();
      if (last != batch.lastPosition()) {
        throw new IllegalStateException(
            "Batch at position " + batch.firstPosition() + " has rows for positions up to "
                + last + " but claimed up to " + batch.lastPosition()
                + "; the changelog was changed by something other than the publisher");
      }
      lastSequence.put(batch, channel.getNextPublishSeqNo() - 1);
      changes.put(batch, count.get());
    }

    /** The oldest batches, in order, whose messages the broker has all confirmed. */
    List<ClaimedBatch> confirmed(List<ClaimedBatch> inFlight) throws IOException {
      List<ClaimedBatch> done = new ArrayList<>();
      for (ClaimedBatch b : inFlight) {
        if (!confirms.confirmed(lastSequence.get(b))) {
          break;
        }
        done.add(b);
      }
      return done;
    }

    /** Waits until the batch is confirmed; false if it is not within the timeout. */
    boolean awaitConfirm(ClaimedBatch batch, Duration timeout)
        throws IOException, InterruptedException {
      return confirms.await(lastSequence.get(batch), timeout);
    }

    /** Counts batches whose deletion was committed. */
    void count(List<ClaimedBatch> shipped) {
      for (ClaimedBatch b : shipped) {
        long n = changes.remove(b);
        lastSequence.remove(b);
        shippedTransactions.addAndGet(b.txids().size());
        shippedChanges.addAndGet(n);
        log.debug("Shipped positions {}..{} ({} changes)", b.firstPosition(), b.lastPosition(), n);
      }
    }

    boolean returned() {
      return confirms.returned();
    }

    /**
     * A message came back: no queue was bound, so nobody would get these changes. Waits until
     * the broker has answered for everything, then publishes the batches in flight again, in
     * order and with the same positions, until some queue takes them.
     */
    void republish(List<ClaimedBatch> inFlight) throws Exception {
      if (!inFlight.isEmpty()
          && !awaitConfirm(inFlight.get(inFlight.size() - 1), CONFIRM_TIMEOUT)) {
        throw new TimeoutException(
            "The broker did not confirm published changes within "
                + CONFIRM_TIMEOUT.toSeconds() + " s");
      }
      log.warn(
          "No replica queue is bound to exchange '{}' yet; keeping positions {}..{} in the"
              + " changelog until a listener has declared its queue",
          settings.exchange(),
          inFlight.isEmpty() ? "?" : inFlight.get(0).firstPosition(),
          inFlight.isEmpty() ? "?" : inFlight.get(inFlight.size() - 1).lastPosition());
      if (!pause(Duration.ofSeconds(5))) {
        throw new InterruptedException("stopping with batches unshipped (they stay pending)");
      }
      confirms.clearReturned();
      for (ClaimedBatch b : inFlight) {
        publish(b);
      }
    }

    private void publish(ChangeMessage message) throws IOException {
      long first = message.transactions().get(0).position();
      AMQP.BasicProperties props =
          new AMQP.BasicProperties.Builder()
              .deliveryMode(2)
              .contentType(ChangeMessageCodec.contentType(message))
              .type("replicador.changes")
              .messageId(source + ":" + first + ":" + message.transactions().get(0).part())
              .timestamp(new java.util.Date())
              .headers(Map.of("replicador-source", source, "replicador-position", first))
              .build();
      confirms.published(channel.getNextPublishSeqNo());
      channel.basicPublish(
          settings.exchange(), Topology.ROUTING_KEY, true, props, codec.encode(message));
    }
  }

  /**
   * Why {@link #run} returned by itself: the primary's capture is missing or of another version,
   * which waiting cannot change. Null when it was stopped.
   */
  public ConfigException refused() {
    return refused;
  }

  /** Whether this publisher currently holds the lock and ships. */
  public boolean isActive() {
    return active.get();
  }

  public long shippedTransactions() {
    return shippedTransactions.get();
  }

  public long shippedChanges() {
    return shippedChanges.get();
  }

  /** Claims made so far, each a query on the primary whether it found changes or not. */
  public long claims() {
    return claims.get();
  }

  /** Sleeps unless stopping; returns false when stopping. */
  private boolean pause(Duration d) {
    try {
      return running.get()
          && !stopRequested.await(d.toMillis(), TimeUnit.MILLISECONDS)
          && running.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Stops after the batch in flight; waits up to 30 seconds. */
  @Override
  public void close() {
    running.set(false);
    stopRequested.countDown();
    if (runner == Thread.currentThread()) {
      return;
    }
    try {
      stopped.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return ManagementFactory.getRuntimeMXBean().getName();
    }
  }
}
