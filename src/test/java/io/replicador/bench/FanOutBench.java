package io.replicador.bench;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;

import io.replicador.broker.QueueType;
import io.replicador.capture.CaptureInstaller;
import io.replicador.change.TableName;
import io.replicador.testing.PgCluster;
import io.replicador.testing.RabbitNode;
import io.replicador.testing.TestEnvironment;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Fan-out: one primary, one publisher and 1, 4 or 8 replicas, with a quorum queue per replica or
 * with one stream that every replica reads. For each, the primary's TPS under small transactions,
 * what the RabbitMQ node spends per change (CPU, bytes written to storage, growth of its data
 * directory), and the time every replica takes to catch up once the load stops; then the same for a
 * bulk load. Run with {@code bench/fanout [SECONDS [ROUNDS]]}.
 *
 * <p>Rounds take turns (queues, stream, queues, ...) and the table gives medians with the lowest
 * and highest round. Each measurement has a new primary database, new replica databases (in one
 * replica cluster), a new exchange and new replica names, so no run or round sees another's state;
 * the broker objects are deleted after each. Trigger capture. Where the broker has no streams (it
 * is not RabbitMQ), the stream rows say so and only queues are measured.
 */
public final class FanOutBench {
  private static final int[] REPLICAS = {1, 4, 8};
  private static final long BULK_ROWS = 100_000;
  private static final long BULK_TRANSACTION = 10_000;
  // bulk rows are keyed above anything pgbench's sequence reaches
  private static final long BULK_BASE = 1_000_000_000L;
  private static final Duration CATCH_UP_LIMIT = Duration.ofMinutes(5);
  private static final String TABLE =
      "CREATE TABLE items (id bigint PRIMARY KEY, ts timestamptz NOT NULL DEFAULT clock_timestamp(),"
          + " n int NOT NULL DEFAULT 0, payload text)";

  private final PgCluster primary;
  private final PgCluster replicas;
  private final String amqpUri;
  private final BrokerMeter broker; // null where /proc does not show the node
  private final CpuMeter cpu;
  private final String run = Long.toHexString(System.nanoTime() & 0xffffff);
  private final FanOutTable table = new FanOutTable();
  private int setups;

  private record Transport(String label, QueueType type) {}

  private FanOutBench(String amqpUri) {
    this.amqpUri = amqpUri;
    this.broker = BrokerMeter.find(CpuMeter.port(amqpUri)).orElse(null);
    this.primary = DurableClusters.start("fanout-primary");
    this.replicas = DurableClusters.start("fanout-replicas");
    this.cpu = new CpuMeter(Map.of("primary", primary, "replicas", replicas), amqpUri);
  }

  /**
   * {@code [SECONDS [ROUNDS]] [--own-broker]}: with {@code --own-broker}, a RabbitMQ node of the
   * benchmark's own (the installed server, a fresh data directory) instead of the tests' broker, so
   * that nobody else's queues are counted in the broker's CPU and disk figures.
   */
  public static void main(String[] args) throws Exception {
    List<String> numbers = new ArrayList<>();
    boolean ownBroker = false;
    for (String a : args) {
      if (a.equals("--own-broker")) {
        ownBroker = true;
      } else {
        numbers.add(a);
      }
    }
    Duration load = Duration.ofSeconds(numbers.size() > 0 ? Long.parseLong(numbers.get(0)) : 20);
    int rounds = numbers.size() > 1 ? Integer.parseInt(numbers.get(1)) : 2;
    RabbitNode node = ownBroker ? RabbitNode.start("fanout", RabbitNode.Options.plain()) : null;
    int status = 0;
    try {
      FanOutBench b = new FanOutBench(node == null ? TestEnvironment.amqpUri() : node.amqpUri());
      try {
        b.runAll(load, rounds);
      } finally {
        b.primary.close();
        b.replicas.close();
      }
    } catch (Exception e) {
      e.printStackTrace();
      status = 1;
    } finally {
      if (node != null) {
        node.close();
      }
    }
    System.exit(status); // the broker client's threads would keep the JVM alive
  }

  private void runAll(Duration load, int rounds) throws Exception {
    List<Transport> transports = new ArrayList<>();
    transports.add(new Transport("queues", QueueType.QUORUM));
    Optional<String> noStream = Pipeline.streamsUnavailable(amqpUri);
    if (noStream.isEmpty()) {
      transports.add(new Transport("stream", QueueType.STREAM));
    }
    System.out.printf(
        Locale.ROOT,
        "Fan-out benchmark %s: %d cores, %d s of pgbench per measurement, %d round(s),"
            + " PostgreSQL at %s, broker at %s (%s)%n",
        Instant.now(),
        Runtime.getRuntime().availableProcessors(),
        load.toSeconds(),
        rounds,
        primary.bin(),
        amqpUri,
        broker == null ? "its process not found: no broker CPU or disk figures" : broker);
    noStream.ifPresent(
        why -> System.out.println("stream: SKIPPED, measuring quorum queues only: " + why));
    idleBroker();
    warmUp(transports);
    for (int round = 1; round <= rounds; round++) {
      System.out.printf(Locale.ROOT, "round %d of %d%n", round, rounds);
      for (int n : REPLICAS) {
        for (Transport t : transports) {
          measure(t, n, load);
        }
      }
    }
    System.out.println();
    System.out.printf(
        Locale.ROOT,
        "Medians of %d round(s)%s. Small: pgbench, 4 clients, one-row INSERT transactions."
            + " Bulk: %,d rows in %,d-row transactions. Broker figures per change (a small"
            + " transaction, or a bulk row), over the load and the catch-up.%n%n",
        rounds,
        rounds > 1 ? ", [lowest, highest round] in brackets" : "",
        BULK_ROWS,
        BULK_TRANSACTION);
    table.print(
        transports.stream().map(Transport::label).toList(),
        REPLICAS,
        noStream.isPresent() ? "the broker has no streams" : null);
  }

  /** What the broker does with nobody of ours on it: other users of a shared broker show here. */
  private void idleBroker() throws Exception {
    if (broker == null) {
      return;
    }
    BrokerMeter.Sample before = broker.sample();
    long start = System.nanoTime();
    TimeUnit.SECONDS.sleep(5); // a measurement window, not a wait for something
    BrokerMeter.Sample d = broker.sample().minus(before);
    double s = (System.nanoTime() - start) / 1e9;
    System.out.printf(
        Locale.ROOT,
        "  broker before the run, idle for us: %.3f CPU s/s, %,.0f bytes written/s%n",
        d.cpuSeconds() / s,
        d.writeBytes() / s);
  }

  /**
   * Runs the code paths once, unmeasured, so that the JIT compiler's own CPU is not charged to the
   * first measurement (in production publisher and listeners run for days).
   */
  private void warmUp(List<Transport> transports) throws Exception {
    System.out.println("  warming up (not measured)");
    for (Transport t : transports) {
      try (Setup s = setUp(t, 2)) {
        Pgbench.tps(primary, s.primaryDb, Pgbench.INSERT, Duration.ofSeconds(5), 0);
        bulkLoad(s, 30_000, BULK_TRANSACTION);
        awaitCaughtUp(s, rows(primary, s.primaryDb));
      }
    }
  }

  // ---------------------------------------------------------------- one measurement

  private void measure(Transport t, int n, Duration load) throws Exception {
    try (Setup s = setUp(t, n)) {
      // small transactions: pgbench, then until every replica has every row
      BrokerMeter.Sample before = brokerSample();
      Map<String, Double> cpuBefore = cpu.sample();
      long xids = replicaTransactions();
      double tps = Pgbench.tps(primary, s.primaryDb, Pgbench.INSERT, load, 0);
      long loaded = System.nanoTime();
      long count = rows(primary, s.primaryDb);
      awaitCaughtUp(s, count);
      double catchUp = (System.nanoTime() - loaded) / 1e9;
      BrokerMeter.Sample small = minus(brokerSample(), before);
      long transactions = count - 1; // the ready row
      parts(t, n, "small", cpuBefore, transactions);
      batching(t, n, "small", xids, transactions);
      add(t, n, "tps", tps);
      add(t, n, "catch-up", catchUp);
      perChange(t, n, "small", small, transactions);
      System.out.printf(
          Locale.ROOT,
          "  %s, %d replica(s): %,.0f TPS, %,d transactions, caught up %.2f s after; broker %s%n",
          t.label,
          n,
          tps,
          transactions,
          catchUp,
          describe(small, transactions, "transaction"));

      // bulk: 10,000-row transactions, then until every replica has every row
      before = brokerSample();
      cpuBefore = cpu.sample();
      xids = replicaTransactions();
      long start = System.nanoTime();
      bulkLoad(s, BULK_ROWS, BULK_TRANSACTION);
      long written = System.nanoTime();
      awaitCaughtUp(s, count + BULK_ROWS);
      long end = System.nanoTime();
      BrokerMeter.Sample bulk = minus(brokerSample(), before);
      parts(t, n, "bulk", cpuBefore, BULK_ROWS);
      batching(t, n, "bulk", xids, BULK_ROWS / BULK_TRANSACTION);
      add(t, n, "bulk-write-time", (written - start) / 1e9);
      add(t, n, "bulk-catch-up", (end - written) / 1e9);
      add(t, n, "bulk-rows/s", BULK_ROWS / ((end - start) / 1e9));
      perChange(t, n, "bulk", bulk, BULK_ROWS);
      System.out.printf(
          Locale.ROOT,
          "  %s, %d replica(s): bulk written in %.2f s, caught up %.2f s after; broker %s%n",
          t.label,
          n,
          (written - start) / 1e9,
          (end - written) / 1e9,
          describe(bulk, BULK_ROWS, "row"));
    }
  }

  private void perChange(Transport t, int n, String phase, BrokerMeter.Sample d, long changes) {
    if (d == null) {
      return;
    }
    add(t, n, phase + "-cpu", d.cpuSeconds() * 1e6 / changes);
    add(t, n, phase + "-write", (double) d.writeBytes() / changes);
    add(t, n, phase + "-data", (double) d.dataDirBytes() / changes);
  }

  private static String describe(BrokerMeter.Sample d, long changes, String per) {
    if (d == null) {
      return "not measured";
    }
    return String.format(
        Locale.ROOT,
        "%.1f CPU s (%.1f µs/%s), %,d bytes written (%,.0f/%s), data dir %+,d bytes (%+,.0f/%s)",
        d.cpuSeconds(),
        d.cpuSeconds() * 1e6 / changes,
        per,
        d.writeBytes(),
        (double) d.writeBytes() / changes,
        per,
        d.dataDirBytes(),
        (double) d.dataDirBytes() / changes,
        per);
  }

  private BrokerMeter.Sample brokerSample() throws Exception {
    return broker == null ? null : broker.sample();
  }

  private static BrokerMeter.Sample minus(BrokerMeter.Sample after, BrokerMeter.Sample before) {
    return after == null ? null : after.minus(before);
  }

  /**
   * Transaction ids the replica cluster has handed out: only the listeners write there during a
   * measurement, one replica transaction each, so the difference counts their commits.
   */
  private long replicaTransactions() {
    return Long.parseLong(query(replicas, "postgres", "SELECT txid_current()"));
  }

  /** Source transactions per replica transaction, over all replicas: how the listeners batch. */
  private void batching(Transport t, int n, String phase, long xidsBefore, long sourceTxns) {
    long applied = replicaTransactions() - xidsBefore - 1; // the reading itself takes one
    double perReplicaTxn = applied <= 0 ? 0 : (double) sourceTxns * n / applied;
    System.out.printf(
        Locale.ROOT,
        "    %s: %,d replica transactions, %.2f source transactions per replica transaction%n",
        phase,
        applied,
        perReplicaTxn);
    add(t, n, phase + "-batching", perReplicaTxn);
  }

  /** CPU per change of this JVM (publisher and listeners) and of the replicas' PostgreSQL. */
  private void parts(Transport t, int n, String phase, Map<String, Double> before, long changes) {
    Map<String, Double> after = cpu.sample();
    System.out.printf(Locale.ROOT, "    %s CPU: %s%n", phase, CpuMeter.difference(before, after));
    for (String part : List.of("Java", "replicas", "primary")) {
      if (after.containsKey(part)) {
        add(t, n, phase + "-" + part, (after.get(part) - before.get(part)) * 1e6 / changes);
      }
    }
  }

  private void add(Transport t, int n, String figure, double value) {
    table.add(t.label, n, figure, value);
  }

  // ---------------------------------------------------------------- setup and load

  /** A primary database with capture, n replica databases, their listeners and the publisher. */
  private Setup setUp(Transport t, int n) throws Exception {
    Setup s = new Setup();
    String base = "fo_" + run + "_" + (++setups);
    s.primaryDb = primary.createDatabase(base);
    exec(primary, s.primaryDb, TABLE, "CREATE SEQUENCE ids");
    try (Connection c = primary.connect(s.primaryDb)) {
      new CaptureInstaller(c).install(List.of(TableName.parse("items")));
    }
    List<String> names = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String db = replicas.createDatabase(base + "_r" + i);
      exec(replicas, db, TABLE);
      s.replicaDbs.add(db);
      names.add(db + "_" + t.label);
    }
    s.pipeline =
        Pipeline.start(
            amqpUri,
            primary,
            s.primaryDb,
            replicas,
            s.replicaDbs,
            names,
            "replicador-bench.fanout." + base + "." + t.label,
            t.type);
    // one row through to every replica: every listener consumes before the load starts
    exec(primary, s.primaryDb, "INSERT INTO items (id, payload) VALUES (0, 'ready')");
    awaitCaughtUp(s, 1);
    return s;
  }

  private void bulkLoad(Setup s, long rows, long perTransaction) throws Exception {
    long base = BULK_BASE + rows(primary, s.primaryDb);
    try (Connection c = primary.connect(s.primaryDb);
        Statement st = c.createStatement()) {
      for (long from = 1; from <= rows; from += perTransaction) {
        long to = Math.min(rows, from + perTransaction - 1);
        st.execute(
            "INSERT INTO items (id, payload) SELECT "
                + base
                + " + g, md5(g::text) FROM generate_series("
                + from
                + ", "
                + to
                + ") g");
      }
    }
  }

  /** Polls every replica until it has as many rows as the primary had, or fails at a deadline. */
  private void awaitCaughtUp(Setup s, long count) throws Exception {
    // the primary's newest row first (an index probe), then the count: rows of transactions that
    // committed after the newest row's can still be on their way
    long newest = Long.parseLong(query(primary, s.primaryDb, "SELECT max(id) FROM items"));
    for (String db : s.replicaDbs) {
      Await.isTrue(
          replicas,
          db,
          "SELECT EXISTS (SELECT 1 FROM items WHERE id = " + newest + ")",
          CATCH_UP_LIMIT);
      Await.isTrue(replicas, db, "SELECT count(*) = " + count + " FROM items", CATCH_UP_LIMIT);
    }
  }

  private static long rows(PgCluster cluster, String db) {
    return Long.parseLong(query(cluster, db, "SELECT count(*) FROM items"));
  }

  private final class Setup implements AutoCloseable {
    String primaryDb;
    Pipeline pipeline;
    final List<String> replicaDbs = new ArrayList<>();

    @Override
    public void close() throws Exception {
      if (pipeline != null) {
        pipeline.close();
      }
      // dropped so that later measurements do not share the clusters' caches and disks with them
      for (String db : replicaDbs) {
        exec(replicas, "postgres", "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
      }
      exec(primary, "postgres", "DROP DATABASE IF EXISTS " + primaryDb + " WITH (FORCE)");
    }
  }
}
