package io.replicador.publish;

import io.replicador.Failures;
import io.replicador.StartFailures;
import io.replicador.broker.ChangePublication;
import io.replicador.broker.QueuePublication;
import io.replicador.config.ConfigException;
import io.replicador.store.ChangeLogReader;
import io.replicador.store.PrimaryStore;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

  private final PublisherSettings settings;
  private final Clock clock = Clock.systemUTC();
  private final String identity;
  private volatile ConfigException refused;
  private final Duration connectTimeout;
  /** Whether a session reached both servers: from then on every failure is retried. */
  private volatile boolean started;
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final AtomicBoolean active = new AtomicBoolean();
  private final TriggerSource.Stats stats = new TriggerSource.Stats();
  private volatile Thread runner;

  public ChangePublisher(PublisherSettings settings) {
    this(settings, Duration.ZERO);
  }

  /**
   * @param connectTimeout how long to wait at start for servers that are not up yet before
   *     giving up ({@link #refused}); zero to wait as long as it takes
   */
  public ChangePublisher(PublisherSettings settings, Duration connectTimeout) {
    this.settings = settings;
    this.connectTimeout = connectTimeout;
    this.identity = hostName() + ":" + ProcessHandle.current().pid();
  }

  @Override
  public void run() {
    runner = Thread.currentThread();
    Duration backoff = Duration.ofSeconds(1);
    long since = System.nanoTime();
    try {
      while (running.get()) {
        long shippedBefore = stats.shippedTransactions.get();
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
          if (!started) {
            refused = StartFailures.refusal(e, since, connectTimeout);
            if (refused != null) {
              break;
            }
            log.warn(
                "Publisher cannot start yet ({}); waiting for the servers, retrying in {} s",
                Failures.describe(e),
                backoff.toSeconds());
            if (!pause(backoff)) {
              break;
            }
            backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0
                ? MAX_BACKOFF
                : backoff.multipliedBy(2);
            continue;
          }
          if (stats.shippedTransactions.get() > shippedBefore) {
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
      if (started) {
        log.info(
            "Publisher {} stopped; it shipped {} transaction(s) ({} changes)",
            identity,
            stats.shippedTransactions.get(),
            stats.shippedChanges.get());
      }
      stopped.countDown();
    }
  }

  private void session() throws Exception {
    try (java.sql.Connection pg = settings.primary().connect("replicador-publish")) {
      pg.setAutoCommit(false);
      if (!settings.notifyChannels().isEmpty()) {
        // origin mode needs the changelog and publisher state, not triggers on user tables
        if (new PrimaryStore(pg, settings.primary().toString()).createIfMissing()) {
          log.info("Created schema replicador on {} (changelog and publisher state; no triggers)",
              settings.primary());
        }
        pg.commit();
      }
      PrimaryStore store = new PrimaryStore(pg, settings.primary().toString());
      store.requireCurrent();
      pg.commit();
      // A standby proves it can use both servers before it waits, so that it never takes over
      // only to find it cannot publish.
      try (ChangePublication publication =
          QueuePublication.open(
              settings.broker(), settings.exchange(), "replicador-publish:" + settings.exchange())) {
        started = true;
        ChangeLogReader reader = new ChangeLogReader(pg, 100_000);
        waitForLock(reader);
        if (!running.get()) {
          return;
        }
        store.requireCurrent(); // an install may have run while this one waited
        String source = store.sourceId();
        TriggerSource changes =
            new TriggerSource(pg, reader, settings, clock, stats, this::pause, running::get);
        changes.listen();
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
        changes.ship(new BatchShipper(publication, source, reader, pg, settings, clock));
      } finally {
        active.set(false);
      }
    }
  }

  private void waitForLock(ChangeLogReader reader) throws SQLException, InterruptedException {
    boolean announced = false;
    while (running.get() && !reader.tryLock(identity)) {
      if (!announced) {
        reader.standingBy(true);
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
    if (announced && running.get()) {
      reader.standingBy(false);
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
    return stats.shippedTransactions.get();
  }

  public long shippedChanges() {
    return stats.shippedChanges.get();
  }

  /** Claims made so far, each a query on the primary whether it found changes or not. */
  public long claims() {
    return stats.claims.get();
  }

  /** Sleeps unless stopping; returns false when stopping. */
  boolean pause(Duration d) {
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
    if (running.get() && started) {
      log.info("Publisher {} stopping on request, after the batch in flight", identity);
    }
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
