package io.replicador.apply;

import io.replicador.Failures;
import io.replicador.RetryingService;
import io.replicador.apply.ReplicaApplier.Incoming;
import io.replicador.broker.ChangeSubscription;
import io.replicador.broker.QueueSubscription;
import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import io.replicador.codec.ChangeMessageCodec;
import io.replicador.codec.MalformedMessageException;
import io.replicador.metrics.ListenerMetrics;
import java.io.IOException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Consumes a replica's queue and applies it: manual acks, bounded prefetch, ack only after the
 * replica committed. A change the replica cannot take is retried with backoff and blocks what
 * follows (order is never broken); a message that is not a change message goes to the dead-letter
 * queue with the reason. {@link #run} blocks until {@link #close}; connection failures are retried.
 */
public final class ReplicaListener extends RetryingService {
  private static final Logger log = LoggerFactory.getLogger(ReplicaListener.class);
  public static final String REASON_HEADER = QueueSubscription.REASON_HEADER;

  /**
   * When the publisher published the message, in milliseconds since 1970 (docs/message-format.md);
   * the lag is measured from it.
   */
  static final String PUBLISHED_AT_HEADER = "replicador-published-at";

  /**
   * How long a batch that ends inside a large transaction waits for that transaction's next part.
   */
  private static final Duration PART_WAIT = Duration.ofMillis(200);

  /** How long an idle listener leaves applied messages unacknowledged for want of a WAL flush. */
  private static final Duration IDLE_SYNC = Duration.ofSeconds(1);

  /**
   * How long a large transaction's parts stay applied in an open replica transaction while its next
   * part does not come (its publisher stopped, say): then the transaction is rolled back, so that
   * it holds no locks and old row versions on the replica, and its last part applies its staged
   * parts instead.
   */
  private static final Duration OPEN_WAIT = Duration.ofSeconds(5);

  private final ListenerSettings settings;
  private final ChangeMessageCodec codec = new ChangeMessageCodec();
  private final AtomicLong appliedMessages = new AtomicLong();
  private final AtomicLong deadLettered = new AtomicLong();
  private volatile Map<String, Long> positions = Map.of();
  private volatile ListenerMetrics metrics;

  public ListenerSettings settings() {
    return settings;
  }

  public ReplicaListener(ListenerSettings settings) {
    this(settings, Duration.ZERO);
  }

  /**
   * @param connectTimeout how long to wait at start for servers that are not up yet before giving
   *     up ({@link #refused}); zero to wait as long as it takes
   */
  public ReplicaListener(ListenerSettings settings, Duration connectTimeout) {
    super(connectTimeout);
    this.settings = settings;
    this.metrics = ListenerMetrics.none(settings.name());
  }

  /** Sets where the listener's meters go; call before {@link #run}. */
  public void measuredBy(ListenerMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  protected String name() {
    return "Listener " + settings.name();
  }

  @Override
  protected long progress() {
    return appliedMessages.get();
  }

  @Override
  protected String stoppedLine() {
    return "Listener "
        + settings.name()
        + " stopped; it applied "
        + appliedMessages.get()
        + " message(s), last positions "
        + positions;
  }

  @Override
  protected void session()
      throws SQLException, IOException, TimeoutException, InterruptedException {
    try (java.sql.Connection replica =
            settings.replica().connect("replicador-listen-" + settings.name());
        java.sql.Connection stager =
            settings.replica().connect("replicador-listen-" + settings.name());
        ReplicaApplier applier =
            new ReplicaApplier(
                replica,
                stager,
                settings.name(),
                settings.tables(),
                settings.allowReplicaTriggers())) {
      // the replica is ready (or refused) before anything is consumed
      applier.prepare();
      consume(applier);
    }
  }

  private void consume(ReplicaApplier applier)
      throws SQLException, IOException, TimeoutException, InterruptedException {
    try (QueueSubscription<Decoded> subscription =
        QueueSubscription.open(
            settings.broker(),
            settings.exchange(),
            settings.name(),
            applier.database(),
            settings.queueType(),
            settings.prefetch(),
            body -> Decoded.of(codec, body))) {
      started();
      positions = applier.positions();
      log.info(
          "Listener {} consuming {} into {} (positions {}); a second listener of the same name"
              + " waits as standby",
          settings.name(),
          subscription.name(),
          settings.replica(),
          positions);
      Acknowledgements acks = new Acknowledgements();
      long lastDelivery = System.nanoTime();
      while (running()) {
        Delivery first =
            Delivery.of(subscription.poll(Duration.ofMillis(acks.waiting() > 0 ? 20 : 500)));
        if (first == null) {
          if (applier.holdsOpenTransaction()
              && System.nanoTime() - lastDelivery > OPEN_WAIT.toNanos()) {
            applier.abandonOpenTransaction();
          }
          if (acks.waiting() > 0) {
            acks.acknowledgeFlushed(subscription, applier.wal()[1]);
          }
          if (acks.waitedLongerThan(IDLE_SYNC)) {
            // idle, and the flush has not reached the WAL position noted after the last commit
            // (other sessions' WAL may lie beyond it): make everything durable now
            applier.syncWal();
            acks.acknowledgeAll(subscription);
          }
          continue;
        }
        lastDelivery = System.nanoTime();
        List<Delivery> batch = gather(first, subscription, applier.holdsOpenTransaction());
        int unreadable = firstUnreadable(batch);
        if (unreadable >= 0) {
          // what comes before it is applied and everything applied acknowledged, then it halts
          List<Delivery> before = batch.subList(0, unreadable);
          if (!before.isEmpty()) {
            Map<String, Long> from = positions;
            applyWithRetry(applier, sortOut(before, subscription), true);
            acks.acknowledgeAll(subscription, before.get(before.size() - 1).tag());
            positions = applier.positions();
            measure(before, from);
          }
          applier.syncWal();
          acks.acknowledgeAll(subscription);
          halt(batch.get(unreadable));
        }
        Map<String, Long> from = positions;
        List<Incoming> incoming = sortOut(batch, subscription);
        // A replica commit need not wait for the disk: messages are acknowledged once the WAL
        // holding it is flushed. When half the prefetch awaits that, this commit waits instead,
        // so the broker never stops sending for want of acknowledgements.
        boolean durable = acks.waiting() + batch.size() >= Math.max(1, settings.prefetch() / 2);
        applyWithRetry(applier, incoming, durable);
        long tag = batch.get(batch.size() - 1).tag();
        if (durable) {
          acks.acknowledgeAll(subscription, tag);
        } else {
          long[] wal = applier.wal();
          acks.await(wal[0], tag, batch.size());
          acks.acknowledgeFlushed(subscription, wal[1]);
        }
        appliedMessages.addAndGet(batch.size());
        positions = applier.positions();
        measure(batch, from);
      }
      if (acks.waiting() > 0) {
        // stopping: what was applied is acknowledged rather than delivered again
        applier.syncWal();
        acks.acknowledgeAll(subscription);
      }
    }
  }

  /**
   * One replica transaction's worth of deliveries: what has arrived, up to the prefetch. When the
   * last one leaves a large source transaction unfinished, waits briefly for its remaining parts,
   * so that it is applied directly rather than staged on the replica.
   *
   * <p>While a large transaction is held open, its parts are acknowledged as soon as they are
   * staged, and a batch need not reach its end: batches then take half the prefetch, so that the
   * other half arrives while this one is applied.
   */
  private List<Delivery> gather(
      Delivery first, ChangeSubscription<Decoded> deliveries, boolean openTransaction)
      throws IOException, InterruptedException {
    int limit = openTransaction ? Math.max(1, settings.prefetch() / 2) : settings.prefetch();
    List<Delivery> batch = new ArrayList<>();
    batch.add(first);
    drain(deliveries, batch, limit);
    while (batch.size() < limit && batch.get(batch.size() - 1).endsMidTransaction()) {
      Delivery next = Delivery.of(deliveries.poll(PART_WAIT));
      if (next == null) {
        break;
      }
      batch.add(next);
      drain(deliveries, batch, limit);
    }
    return batch;
  }

  /** Adds what has arrived already, up to {@code limit} in all. */
  private static void drain(ChangeSubscription<Decoded> deliveries, List<Delivery> batch, int limit)
      throws IOException, InterruptedException {
    while (batch.size() < limit) {
      Delivery next = Delivery.of(deliveries.poll(Duration.ZERO));
      if (next == null) {
        return;
      }
      batch.add(next);
    }
  }

  /** The change messages of the batch; anything else goes to the dead-letter queue. */
  private List<Incoming> sortOut(List<Delivery> batch, ChangeSubscription<Decoded> deliveries)
      throws IOException, InterruptedException, TimeoutException {
    List<Incoming> incoming = new ArrayList<>(batch.size());
    for (Delivery d : batch) {
      if (d.message() != null) {
        incoming.add(new Incoming(d.message(), d.body(), d.tag()));
      } else {
        log.error(
            "Listener {}: message {} is not a change message ({}); moved to {}",
            settings.name(),
            d.messageId(),
            d.malformed(),
            deliveries.deadLetterName());
        deliveries.deadLetter(d.raw(), d.malformed());
        deadLettered.incrementAndGet();
        metrics.deadLettered();
      }
    }
    return incoming;
  }

  /** The place of the first change message in the batch that this listener cannot read, or -1. */
  private static int firstUnreadable(List<Delivery> batch) {
    for (int i = 0; i < batch.size(); i++) {
      if (batch.get(i).message() == null && batch.get(i).ours()) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Stops applying at a change message this listener cannot read: it stays queued, unacknowledged,
   * and the replica waits (saying why, less often as time goes by) until the listener is stopped,
   * upgraded or given what it lacks. Returns only by throwing, when stopping.
   */
  private void halt(Delivery d) throws InterruptedException {
    metrics.halted(
        null,
        "message "
            + d.messageId()
            + " of the change stream cannot be read ("
            + d.malformed()
            + ")");
    Duration backoff = Duration.ofSeconds(1);
    while (true) {
      log.error(
          "Listener {}: message {} of the change stream cannot be read ({}); it stays queued and"
              + " this replica applies nothing after it until a listener that can read it runs",
          settings.name(),
          d.messageId(),
          d.malformed());
      if (!pause(backoff)) {
        throw new InterruptedException("stopping with an unreadable change message queued");
      }
      backoff = doubled(backoff);
    }
  }

  private void applyWithRetry(ReplicaApplier applier, List<Incoming> incoming, boolean durable)
      throws SQLException, InterruptedException {
    Duration backoff = Duration.ofSeconds(1);
    while (true) {
      try {
        long start = System.nanoTime();
        applier.apply(incoming, durable);
        metrics.replicaTransaction(System.nanoTime() - start);
        metrics.resumed();
        return;
      } catch (ApplyException e) {
        String table = e.table() == null ? null : label(e.table());
        metrics.halted(table, e.getMessage());
        if (table != null) {
          MDC.put("table", table);
        }
        log.error("{}; retrying in {} s", e.getMessage(), backoff.toSeconds());
        MDC.remove("table");
      } catch (SQLException e) {
        if (Failures.isConnectionFailure(e)) {
          throw e;
        }
        metrics.halted(null, "replica transaction failed: " + Failures.describe(e));
        log.error(
            "Listener {}: replica transaction failed: {}; retrying in {} s",
            settings.name(),
            Failures.describe(e),
            backoff.toSeconds());
      }
      if (!pause(backoff)) {
        throw new InterruptedException("stopping with the batch unapplied (it stays queued)");
      }
      backoff = doubled(backoff);
    }
  }

  /**
   * Counts what a committed batch applied: a transaction at or below the position its source had
   * before the batch was delivered again and skipped, as the applier decides. Also measures each
   * message's lag from the time its publisher published it.
   */
  private void measure(List<Delivery> applied, Map<String, Long> from) {
    long now = System.currentTimeMillis();
    long transactions = 0;
    long skipped = 0;
    Map<String, Long> changes = new HashMap<>();
    for (Delivery d : applied) {
      ChangeMessage m = d.message();
      if (m == null) {
        continue;
      }
      long before = from.getOrDefault(m.source(), 0L);
      for (SourceTransaction tx : m.transactions()) {
        if (tx.position() <= before) {
          skipped += tx.last() ? 1 : 0;
          continue;
        }
        transactions += tx.last() ? 1 : 0;
        for (Change c : tx.changes()) {
          if (c.op() != Operation.VALUE) {
            changes.merge(label(c.table()), 1L, Long::sum);
          }
        }
      }
      if (d.raw().headers() != null
          && d.raw().headers().get(PUBLISHED_AT_HEADER) instanceof Number at) {
        metrics.lag(now - at.longValue());
      }
    }
    metrics.appliedTransactions(transactions);
    metrics.redeliveriesSkipped(skipped);
    changes.forEach(metrics::appliedChanges);
    Map<String, Long> reached = positions;
    reached.forEach(metrics::position);
    if (reached.size() == 1) {
      MDC.put("position", String.valueOf(reached.values().iterator().next()));
    } else if (!reached.isEmpty()) {
      MDC.put("position", reached.toString());
    }
  }

  /** A table as meters and log fields name it: schema.name, unquoted, for reading. */
  private static String label(TableName table) {
    return table.schema() + "." + table.name();
  }

  /** The last applied position per source, as of the last commit. */
  public Map<String, Long> positions() {
    return positions;
  }

  public long appliedMessages() {
    return appliedMessages.get();
  }

  public long deadLettered() {
    return deadLettered.get();
  }

  /** A body, decoded: {@code message}, or else why it is none and whether it is ours. */
  private record Decoded(ChangeMessage message, String malformed, boolean ours) {
    static Decoded of(ChangeMessageCodec codec, byte[] body) {
      try {
        return new Decoded(codec.decode(body), null, true);
      } catch (MalformedMessageException e) {
        // a change message this listener cannot read (a newer version, a limit of its own)
        // holds changes, and must not be skipped
        return new Decoded(null, e.getMessage(), e.ours());
      }
    }
  }

  /** A delivery and what its body decoded into. */
  private record Delivery(ChangeSubscription.Delivery<Decoded> raw) {
    static Delivery of(ChangeSubscription.Delivery<Decoded> raw) {
      return raw == null ? null : new Delivery(raw);
    }

    long tag() {
      return raw.tag();
    }

    byte[] body() {
      return raw.body();
    }

    String messageId() {
      return raw.messageId();
    }

    ChangeMessage message() {
      return raw.decoded().message();
    }

    String malformed() {
      return raw.decoded().malformed();
    }

    boolean ours() {
      return raw.decoded().ours();
    }

    boolean endsMidTransaction() {
      ChangeMessage m = message();
      if (m == null || m.transactions().isEmpty()) {
        return false;
      }
      return !m.transactions().get(m.transactions().size() - 1).last();
    }
  }
}
