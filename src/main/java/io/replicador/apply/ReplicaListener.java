package io.replicador.apply;

import io.replicador.Failures;
import io.replicador.RetryingService;
import io.replicador.apply.ReplicaApplier.Incoming;
import io.replicador.broker.ChangeSubscription;
import io.replicador.broker.QueueSubscription;
import io.replicador.broker.StreamResume;
import io.replicador.broker.StreamSubscription;
import io.replicador.broker.StreamTopology;
import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import io.replicador.codec.ChangeMessageCodec;
import io.replicador.codec.MalformedMessageException;
import io.replicador.codec.MessageSignature;
import io.replicador.config.ConfigException;
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
 *
 * <p>With {@link ListenerSettings#signatures()}, a message without a valid signature is
 * dead-lettered with the reason and counted ({@link #rejected}), never applied, and moves no
 * position. A transaction whose position lies beyond the next one expected from its source (some
 * never arrived: the queue lost messages, or someone published a position far ahead) halts the
 * listener before it: that message stays queued, nothing after it is applied, the halt is recorded
 * in the replica (for {@code status}) and cleared when the listener applies again.
 *
 * <p>With {@link io.replicador.broker.QueueType#STREAM} it reads the exchange's stream from the
 * offset after the last one it processed, which each replica commit saves with what it applied. One
 * listener per replica holds a lock on the replica (a stream has no single active consumer); a
 * second one is refused. When the stream no longer holds the replica's next message (retention
 * dropped it, or the stream was made again), the listener records the halt and stops: the replica
 * must be snapshotted again.
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
  private final AtomicLong rejected = new AtomicLong();
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
      boolean stream = settings.queueType().isStream();
      if (stream) {
        applier.readsStream(StreamTopology.streamName(settings.exchange()));
      }
      // the replica is ready (or refused) before anything is consumed
      applier.prepare();
      if (stream && !applier.lockListener()) {
        throw new ConfigException(
            "Another listener of replica "
                + settings.name()
                + " is reading the stream into "
                + settings.replica()
                + " (it holds the replica's listener lock); one listener per replica: stop the"
                + " other one first");
      }
      consume(applier);
    }
  }

  private ChangeSubscription<Decoded> subscribe(ReplicaApplier applier)
      throws IOException, TimeoutException, InterruptedException {
    QueueSubscription.Decoder<Decoded> decoder =
        (id, contentType, headers, body) ->
            Decoded.of(codec, settings.signatures(), id, contentType, headers, body);
    if (settings.queueType().isStream()) {
      return StreamSubscription.open(
          settings.broker(),
          settings.exchange(),
          settings.name(),
          applier.database(),
          settings.streamRetention(),
          settings.prefetch(),
          new StreamResume(applier.streamOffset()),
          decoder);
    }
    return QueueSubscription.open(
        settings.broker(),
        settings.exchange(),
        settings.name(),
        applier.database(),
        settings.queueType(),
        settings.prefetch(),
        decoder);
  }

  private void consume(ReplicaApplier applier)
      throws SQLException, IOException, TimeoutException, InterruptedException {
    try (ChangeSubscription<Decoded> subscription = subscribe(applier)) {
      started();
      positions = applier.positions();
      StreamResume resume = null;
      boolean fromStreamStart = false;
      if (subscription instanceof StreamSubscription<Decoded> s) {
        resume = s.resume();
        String recreated = resume.recreated(s.stream(), s.endAtStart());
        if (recreated != null) {
          haltStream(applier, recreated);
        }
        // nothing read and nothing applied: the replica needs the stream from its beginning
        fromStreamStart = resume.saved() < 0 && positions.isEmpty();
      }
      log.info(
          "Listener {} consuming {} into {} (positions {}); {}",
          settings.name(),
          subscription.name(),
          settings.replica(),
          positions,
          subscription instanceof StreamSubscription
              ? "a second listener of the same name is refused"
              : "a second listener of the same name waits as standby");
      if (settings.signatures() == null) {
        log.warn(
            "Listener {} applies unsigned messages: anyone who can publish to exchange '{}' can"
                + " change this replica (give --signing-key-file; see docs/security.md)",
            settings.name(),
            settings.exchange());
      } else {
        log.info(
            "Listener {} applies only messages signed with key(s) {}",
            settings.name(),
            settings.signatures().keyIds());
      }
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
        if (resume != null) {
          // the first delivery of a session tells whether the stream still holds what is next;
          // what follows it comes in order
          String stream = StreamTopology.streamName(settings.exchange());
          String gap = resume.gap(stream, first.raw().offset());
          resume = null;
          if (gap != null) {
            haltStream(applier, gap);
          }
        }
        if (fromStreamStart) {
          Delivery change =
              batch.stream().filter(d -> d.message() != null).findFirst().orElse(null);
          if (change != null) {
            fromStreamStart = false;
            String gap = streamStartGap(StreamTopology.streamName(settings.exchange()), change);
            if (gap != null) {
              haltStream(applier, gap);
            }
          }
        }
        int unreadable = firstUnreadable(batch);
        Gap gap = firstGap(batch, applier.positions());
        if (gap != null && (unreadable < 0 || gap.index() < unreadable)) {
          unreadable = gap.index();
        } else {
          gap = null;
        }
        if (unreadable >= 0) {
          // what comes before it is applied and everything applied acknowledged, then it halts
          List<Delivery> before = batch.subList(0, unreadable);
          if (!before.isEmpty()) {
            Map<String, Long> from = positions;
            applyWithRetry(
                applier, sortOut(before, subscription), true, before.get(before.size() - 1));
            acks.acknowledgeAll(subscription, before.get(before.size() - 1).tag());
            positions = applier.positions();
            measure(before, from);
          }
          applier.syncWal();
          acks.acknowledgeAll(subscription);
          Delivery stop = batch.get(unreadable);
          String why =
              gap != null
                  ? gap.describe(stop.messageId())
                  : "message "
                      + stop.messageId()
                      + " of the change stream cannot be read ("
                      + stop.malformed()
                      + ")";
          applier.recordHalt(why);
          halt(why);
        }
        Map<String, Long> from = positions;
        List<Incoming> incoming = sortOut(batch, subscription);
        // A replica commit need not wait for the disk: messages are acknowledged once the WAL
        // holding it is flushed. When half the prefetch awaits that, this commit waits instead,
        // so the broker never stops sending for want of acknowledgements.
        boolean durable = acks.waiting() + batch.size() >= Math.max(1, settings.prefetch() / 2);
        applyWithRetry(applier, incoming, durable, batch.get(batch.size() - 1));
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

  /**
   * The first transaction of the batch whose position is beyond the next one its source expects
   * after {@code applied}, or null. A source this replica has applied nothing from may start
   * anywhere (a new queue receives what is published after it was declared).
   */
  private static Gap firstGap(List<Delivery> batch, Map<String, Long> applied) {
    Map<String, Long> reached = new HashMap<>(applied);
    for (int i = 0; i < batch.size(); i++) {
      ChangeMessage m = batch.get(i).message();
      if (m == null) {
        continue;
      }
      for (SourceTransaction tx : m.transactions()) {
        Long last = reached.get(m.source());
        if (last != null && last > 0 && tx.position() > last + 1) {
          return new Gap(i, m.source(), last, tx.position());
        }
        if (last == null || tx.position() > last) {
          // parts before the last keep the position open; a start is taken as it comes
          reached.put(m.source(), tx.last() ? tx.position() : tx.position() - 1);
        }
      }
    }
    return null;
  }

  /** Position {@code received} came from {@code source} where {@code applied + 1} was next. */
  private record Gap(int index, String source, long applied, long received) {
    String describe(String messageId) {
      return "message "
          + messageId
          + " holds position "
          + received
          + " of source "
          + source
          + " but "
          + applied
          + " is the last one applied: positions "
          + (applied + 1)
          + ".."
          + (received - 1)
          + " never arrived (the queue lost messages or was recreated, or someone published"
          + " a position far ahead)";
    }
  }

  /** The change messages of the batch; anything else goes to the dead-letter queue. */
  private List<Incoming> sortOut(List<Delivery> batch, ChangeSubscription<Decoded> deliveries)
      throws IOException, InterruptedException, TimeoutException {
    List<Incoming> incoming = new ArrayList<>(batch.size());
    for (Delivery d : batch) {
      if (d.message() != null) {
        incoming.add(new Incoming(d.message(), d.body(), d.tag(), d.raw().offset()));
      } else if (d.raw().decoded().rejected()) {
        log.error(
            "Listener {}: message {} rejected, not applied: {}; moved to {}",
            settings.name(),
            d.messageId(),
            d.malformed(),
            deliveries.deadLetterName());
        deliveries.deadLetter(d.raw(), "rejected: " + d.malformed());
        rejected.incrementAndGet();
        deadLettered.incrementAndGet();
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
   * Stops applying at a change message this listener cannot read or whose position is not the next:
   * it stays queued, unacknowledged, and the replica waits (saying why, less often as time goes by)
   * until the listener is stopped, upgraded or given what it lacks. Returns only by throwing, when
   * stopping.
   */
  private void halt(String why) throws InterruptedException {
    metrics.halted(null, why);
    Duration backoff = Duration.ofSeconds(1);
    while (true) {
      log.error(
          "Listener {} halted: {}; it stays queued and this replica applies nothing after it."
              + " If the stream is to be trusted, stop this listener and run 'replicador snapshot"
              + " --name {}' for all tables; see docs/security.md",
          settings.name(),
          why,
          settings.name());
      if (!pause(backoff)) {
        throw new InterruptedException("stopping with an unreadable change message queued");
      }
      backoff = doubled(backoff);
    }
  }

  /** {@link StreamResume#beginningGap} for the first change message a fresh replica reads. */
  private static String streamStartGap(String stream, Delivery first) {
    ChangeMessage m = first.message();
    if (m.transactions().isEmpty()) {
      return null;
    }
    return StreamResume.beginningGap(
        stream, first.raw().offset(), m.source(), m.transactions().get(0).position());
  }

  /**
   * Records in the replica why it cannot go on reading the stream, and stops the listener with that
   * reason (exit status 2): only a new snapshot makes the replica whole.
   */
  private void haltStream(ReplicaApplier applier, String why) throws SQLException {
    applier.recordHalt(why);
    metrics.halted(null, why);
    throw new ConfigException(
        "Listener "
            + settings.name()
            + " halted: "
            + why
            + ". Nothing was skipped; run 'replicador snapshot --name "
            + settings.name()
            + " --queue-type stream' again to copy the replica afresh, then listen");
  }

  private void applyWithRetry(
      ReplicaApplier applier, List<Incoming> incoming, boolean durable, Delivery last)
      throws SQLException, InterruptedException {
    Duration backoff = Duration.ofSeconds(1);
    while (true) {
      try {
        long start = System.nanoTime();
        applier.apply(incoming, durable, last.raw().offset());
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

  /** Messages dead-lettered for want of a valid signature. */
  public long rejected() {
    return rejected.get();
  }

  /**
   * A body, decoded: {@code message}, or else why it is none, whether it is ours, and whether it
   * was rejected for its signature (then it is not even read).
   */
  private record Decoded(ChangeMessage message, String malformed, boolean ours, boolean rejected) {
    static Decoded of(
        ChangeMessageCodec codec,
        MessageSignature signatures,
        String messageId,
        String contentType,
        Map<String, Object> headers,
        byte[] body) {
      if (signatures != null) {
        var problem = signatures.problem(messageId, contentType, headers, body);
        if (problem.isPresent()) {
          return new Decoded(null, problem.get(), false, true);
        }
      }
      try {
        return new Decoded(codec.decode(body), null, true, false);
      } catch (MalformedMessageException e) {
        // a change message this listener cannot read (a newer version, a limit of its own)
        // holds changes, and must not be skipped
        return new Decoded(null, e.getMessage(), e.ours(), false);
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
