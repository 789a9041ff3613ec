package io.replicador.publish;

import io.replicador.RetryingService;
import io.replicador.broker.ChangePublication;
import io.replicador.broker.QueuePublication;
import io.replicador.config.ConfigException;
import io.replicador.metrics.PublisherMetrics;
import io.replicador.store.ChangeLogReader;
import io.replicador.store.PrimaryStore;
import io.replicador.store.WalCaptureStore;
import io.replicador.store.WalCaptureStore.WalCapture;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ships committed changes from the primary to the exchange: from the trigger changelog ({@link
 * TriggerSource}) or, where capture was installed with {@code --capture wal}, from the logical
 * replication slot ({@link WalSource}).
 *
 * <p>In trigger mode one PostgreSQL connection serves LISTEN and reading. A batch is claimed
 * (positions recorded on the primary), published with confirms, and only then deleted. A second
 * publisher waits on the advisory lock as a hot standby. {@link #run} blocks until {@link #close}
 * is called; connection failures are retried with backoff. Thread-safe for {@code close} from
 * another thread.
 *
 * <p>With {@link PublisherSettings#notifyChannels()} set, the active publisher also LISTENs on
 * those channels for the origin design's row payloads and writes each one into the changelog
 * ({@link OriginChangeWriter}) before it claims the next batch, so they ship like captured changes.
 * It creates the {@code replicador} schema for that if it is missing (no triggers).
 */
public final class ChangePublisher extends RetryingService {
  private static final Logger log = LoggerFactory.getLogger(ChangePublisher.class);

  private final PublisherSettings settings;
  private final Clock clock = Clock.systemUTC();
  private final String identity;
  private final AtomicBoolean active = new AtomicBoolean();
  private final TriggerSource.Stats stats = new TriggerSource.Stats();

  public ChangePublisher(PublisherSettings settings) {
    this(settings, Duration.ZERO);
  }

  /**
   * @param connectTimeout how long to wait at start for servers that are not up yet before giving
   *     up ({@link #refused}); zero to wait as long as it takes
   */
  public ChangePublisher(PublisherSettings settings, Duration connectTimeout) {
    super(connectTimeout);
    this.settings = settings;
    this.identity = hostName() + ":" + ProcessHandle.current().pid();
  }

  @Override
  protected String name() {
    return "Publisher " + identity;
  }

  @Override
  protected long progress() {
    return stats.shippedTransactions.get();
  }

  @Override
  protected String stoppedLine() {
    return "Publisher "
        + identity
        + " stopped; it shipped "
        + stats.shippedTransactions.get()
        + " transaction(s) ("
        + stats.shippedChanges.get()
        + " changes)";
  }

  @Override
  protected void session() throws Exception {
    try (java.sql.Connection pg = settings.primary().connect("replicador-publish")) {
      pg.setAutoCommit(false);
      if (!settings.notifyChannels().isEmpty()) {
        // origin mode needs the changelog and publisher state, not triggers on user tables
        if (new PrimaryStore(pg, settings.primary().toString()).createIfMissing()) {
          log.info(
              "Created schema replicador on {} (changelog and publisher state; no triggers)",
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
          SignedPublication.wrap(
              QueuePublication.open(
                  settings.broker(),
                  settings.exchange(),
                  "replicador-publish:" + settings.exchange(),
                  settings.stream()),
              settings.signing())) {
        started();
        ChangeLogReader reader = new ChangeLogReader(pg, 100_000);
        waitForLock(reader);
        if (!running()) {
          return;
        }
        store.requireCurrent(); // an install may have run while this one waited
        String source = store.sourceId();
        WalCaptureStore walStore = new WalCaptureStore(pg);
        Optional<WalCapture> wal = walStore.find();
        if (wal.isEmpty()) {
          // left by a publisher that died between forgetting WAL capture and dropping its slot
          walStore.dropSlot(WalCaptureStore.slotName(source));
        }
        pg.commit();
        if (wal.isPresent() && !settings.notifyChannels().isEmpty()) {
          throw new ConfigException(
              "--notify-channel works with trigger capture only, and "
                  + settings.primary()
                  + " captures from the WAL; leave out --notify-channel");
        }
        // tables that moved from triggers to the slot: the changelog's rest ships first
        boolean changelogLeft =
            wal.isPresent()
                && (store.backlog().changes() > 0 || store.publisherState().pendingFrom() != null);
        pg.commit();
        ChangeSource changes;
        if (wal.isPresent() && !changelogLeft) {
          changes =
              new WalSource(
                  pg, wal.get(), publication, source, settings, stats, this::pause, this::running);
        } else {
          TriggerSource triggers =
              new TriggerSource(
                  pg,
                  reader,
                  settings,
                  clock,
                  stats,
                  this::pause,
                  this::running,
                  new BatchShipper(publication, source, reader, pg, settings, clock)
                      .measuredBy(stats.metrics),
                  changelogLeft);
          triggers.listen();
          changes = triggers;
        }
        active.set(true);
        log.info(
            "Publisher {} active on {}: shipping source {} ({}) to exchange '{}' at {}",
            identity,
            settings.primary(),
            source,
            wal.isPresent() && !changelogLeft
                ? "from slot " + wal.get().slot()
                : "from the trigger changelog",
            settings.exchange(),
            settings.broker());
        if (settings.signing() == null) {
          log.warn(
              "Publisher {} sends unsigned messages: listeners given --signing-key-file reject"
                  + " them, and those without one cannot tell them from forged ones",
              identity);
        } else {
          log.info(
              "Publisher {} signs every message with key {}",
              identity,
              settings.signing().keyIds().get(0));
        }
        if (!settings.notifyChannels().isEmpty()) {
          log.info(
              "Also listening for origin-design row payloads on channel(s) {}; notifications sent"
                  + " while no publisher listens are lost (see docs/origin-notify-mode.md)",
              settings.notifyChannels());
        }
        changes.ship();
      } finally {
        active.set(false);
      }
    }
  }

  private void waitForLock(ChangeLogReader reader) throws SQLException, InterruptedException {
    boolean announced = false;
    while (running() && !reader.tryLock(identity)) {
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
    if (announced && running()) {
      reader.standingBy(false);
    }
  }

  /** Sets where the publisher's meters go; call before {@link #run}. */
  public void measuredBy(PublisherMetrics metrics) {
    stats.metrics = metrics;
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

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return ManagementFactory.getRuntimeMXBean().getName();
    }
  }
}
