package io.replicador.bench;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;

import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.capture.CaptureInstaller;
import io.replicador.capture.WalCaptureInstaller;
import io.replicador.change.TableName;
import io.replicador.config.PostgresAddress;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import io.replicador.testing.PgCluster;
import io.replicador.testing.TestEnvironment;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Replicador beside PostgreSQL's native logical replication, on the same clusters in one run.
 * Prints one table: scenario, Replicador with triggers, Replicador from the WAL, native, and the
 * WAL figure over the native one. Run with {@code bench/run} ({@code --quick} for a short run).
 * Clusters run with durable commits (fsync and synchronous_commit on), as production would.
 *
 * <p>A full run measures each scenario in {@link #FULL_ROUNDS} rounds that take their turns
 * (Replicador, native, Replicador, ...), and reports medians, with the lowest and highest round in
 * brackets: on a shared machine the speed drifts by a fifth within minutes, and a figure and the
 * one it is compared with are best measured close together, more than once.
 */
public final class Benchmark {
  /** Rounds of each scenario in a full run; a quick run has one. */
  private static final int FULL_ROUNDS = 3;

  private final boolean quick;
  private final int rounds;
  private final Set<String> only;
  private final PgCluster primary;
  private final PgCluster replicas;
  private final List<String[]> results = new ArrayList<>();
  private int databases;

  /**
   * Replica names of this run: a name belongs to the database it was first used with (recorded on
   * the broker), and each run's clusters are new.
   */
  private final String run = Long.toHexString(System.nanoTime() & 0xffffff);

  private String replicaName(String database) {
    return database + "_" + run;
  }

  private Benchmark(boolean quick, Set<String> only) {
    this.quick = quick;
    this.rounds = quick ? 1 : FULL_ROUNDS;
    this.only = only;
    this.primary = DurableClusters.start("bench-primary");
    this.replicas = DurableClusters.start("bench-replicas");
  }

  public static void main(String[] args) throws Exception {
    boolean quick = List.of(args).contains("--quick");
    // --only 1,3 runs just those scenarios (for working on one of them)
    int at = List.of(args).indexOf("--only");
    Set<String> only =
        at >= 0 && at + 1 < args.length
            ? Set.of(args[at + 1].split(","))
            : Set.of("1", "2", "3", "4");
    Benchmark b = new Benchmark(quick, only);
    int status = 0;
    try {
      b.runAll();
    } catch (Exception e) {
      e.printStackTrace();
      status = 1;
    } finally {
      b.primary.close();
      b.replicas.close();
    }
    System.exit(status); // the broker client's threads would keep the JVM alive
  }

  private void runAll() throws Exception {
    long rows = quick ? 100_000 : 1_000_000;
    // a load of pgbench, per round: a full run's rounds add up to 60 s per configuration
    Duration load = quick ? Duration.ofSeconds(5) : Duration.ofSeconds(20);
    Duration lagLoad = quick ? Duration.ofSeconds(5) : Duration.ofSeconds(60);
    System.out.printf(
        Locale.ROOT,
        "Replicador benchmark (%s): %d cores, PostgreSQL at %s, RabbitMQ at %s%n",
        quick ? "quick" : "full",
        Runtime.getRuntime().availableProcessors(),
        primary.bin(),
        TestEnvironment.amqpUri());

    warmUp();
    // the small transactions first: what capture costs the writers
    if (only.contains("3")) {
      smallTransactions(load, lagLoad);
    }
    if (only.contains("4")) {
      fanOut(load);
    }
    if (only.contains("1")) {
      bulk("1 bulk: " + rows + " rows in 10,000-row transactions (rows/s)", rows, 10_000);
    }
    if (only.contains("2")) {
      bulk("2 one " + rows + "-row transaction (rows/s)", rows, rows);
    }

    System.out.printf(
        Locale.ROOT,
        "%nPublisher and listeners ran in this JVM within a heap limit of %d MB%n",
        Runtime.getRuntime().maxMemory() >> 20);
    System.out.println();
    if (rounds > 1) {
      System.out.printf(
          Locale.ROOT, "Medians of %d rounds, [lowest, highest round] in brackets%n", rounds);
    }
    String row = "%-66s %22s %22s %22s %20s%n";
    System.out.printf(
        Locale.ROOT,
        row,
        "scenario",
        "Replicador triggers",
        "Replicador WAL",
        "native",
        "WAL/native");
    for (String[] r : results) {
      System.out.printf(Locale.ROOT, row, (Object[]) r);
    }
  }

  // ---------------------------------------------------------------- scenarios

  /**
   * Runs the publisher and listener code paths once, unmeasured: in production they run for days,
   * so the JVM has long compiled them; measured cold, the JIT compiler's own CPU (seconds of it on
   * two cores) would be charged to the first scenario.
   */
  private void warmUp() throws Exception {
    System.out.println("  warming up (not measured)");
    for (String capture : List.of("trigger", "wal")) {
      try (Setup s = replicador(capture, 1, false)) {
        timedBulkLoad(s, 50_000, 5_000);
      }
    }
    // Small transactions take other paths through the same code; the compiler keeps reworking it
    // for a minute or more on two busy cores. Load on until a round compiles next to nothing (a
    // quick run settles for two rounds, and its first figures carry some of the compiler's CPU).
    CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
    int rounds = quick ? 2 : 12;
    for (String kind : List.of("insert", "update")) {
      for (int round = 1; round <= rounds; round++) {
        long before = jit.getTotalCompilationTime();
        for (String capture : List.of("trigger", "wal")) {
          try (Setup s = replicador(capture, 1, false)) {
            pgbench(s, kind, Duration.ofSeconds(5), 0);
          }
        }
        long compiling = jit.getTotalCompilationTime() - before;
        System.out.printf(
            Locale.ROOT, "    %s round %d: %d ms compiling%n", kind, round, compiling);
        if (compiling < 250) {
          break;
        }
      }
    }
  }

  private void bulk(String title, long rows, long perTransaction) throws Exception {
    Rounds rep = new Rounds();
    Rounds wal = new Rounds();
    Rounds nat = new Rounds();
    for (int round = 1; round <= rounds; round++) {
      announce(round);
      try (Setup s = replicador("trigger", 1, false)) {
        rep.add(timedBulkLoad(s, rows, perTransaction));
      }
      try (Setup s = replicador("wal", 1, false)) {
        wal.add(timedBulkLoad(s, rows, perTransaction));
      }
      try (Setup s = nativeReplication(1, false)) {
        nat.add(timedBulkLoad(s, rows, perTransaction));
      }
    }
    record(title, rep, wal, nat);
  }

  private void announce(int round) {
    if (rounds > 1) {
      System.out.printf(Locale.ROOT, "  round %d of %d%n", round, rounds);
    }
  }

  private double timedBulkLoad(Setup s, long rows, long perTransaction) throws Exception {
    CpuMeter cpu = new CpuMeter(Map.of("primary", primary, "replicas", replicas));
    Map<String, Double> cpuBefore = cpu.sample();
    long start = System.nanoTime();
    try (Connection c = primary.connect(s.primaryDb);
        Statement st = c.createStatement()) {
      for (long from = 1; from <= rows; from += perTransaction) {
        long to = Math.min(rows, from + perTransaction - 1);
        st.execute(
            "INSERT INTO items (id, payload) SELECT g, md5(g::text) FROM generate_series("
                + from
                + ", "
                + to
                + ") g");
      }
    }
    long written = System.nanoTime();
    awaitRow(s, rows, Duration.ofMinutes(10));
    long end = System.nanoTime();
    System.out.printf(
        Locale.ROOT,
        "    written on the primary in %.1f s, last row on the replica %.1f s after the first write%n",
        seconds(written - start),
        seconds(end - start));
    System.out.printf(Locale.ROOT, "    CPU: %s%n", CpuMeter.difference(cpuBefore, cpu.sample()));
    return rows / seconds(end - start);
  }

  private void smallTransactions(Duration load, Duration lagLoad) throws Exception {
    for (String kind : List.of("insert", "update")) {
      Rounds plain = new Rounds();
      Rounds alone = new Rounds();
      Rounds walAlone = new Rounds();
      Rounds rep = new Rounds();
      Rounds wal = new Rounds();
      Rounds nat = new Rounds();
      for (int round = 1; round <= rounds; round++) {
        announce(round);
        plain.add(pgbench(plain(), kind, load, 0).tps);
        alone.add(pgbench(captureAlone(), kind, load, 0).tps);
        try (Setup s = walAlone()) {
          walAlone.add(pgbench(s, kind, load, 0).tps);
        }
        try (Setup s = replicador("trigger", 1, true)) {
          rep.add(pgbench(s, kind, load, 0).tps);
        }
        try (Setup s = replicador("wal", 1, true)) {
          wal.add(pgbench(s, kind, load, 0).tps);
        }
        try (Setup s = nativeReplication(1, true)) {
          nat.add(pgbench(s, kind, load, 0).tps);
        }
      }
      record(
          "3 primary TPS, 4 clients single-row " + kind + "s, vs no capture",
          rep.over(plain),
          wal.over(plain),
          nat.over(plain));
      results.add(
          new String[] {
            "  (TPS: no capture " + plain.summary() + ")",
            rep.summary(),
            wal.summary(),
            nat.summary(),
            ""
          });
      results.add(
          new String[] {
            "  (capture alone vs no capture: triggers; slot read by publisher)",
            alone.over(plain).summary(),
            walAlone.over(plain).summary(),
            "",
            ""
          });
    }
    // lag at a fixed rate of 1,000 transactions per second
    double[] repLag;
    try (Setup s = replicador("trigger", 1, true)) {
      pgbench(s, "insert", lagLoad, 1000);
      repLag = lag(s);
    }
    double[] walLag;
    try (Setup s = replicador("wal", 1, true)) {
      pgbench(s, "insert", lagLoad, 1000);
      walLag = lag(s);
    }
    double[] natLag;
    try (Setup s = nativeReplication(1, true)) {
      pgbench(s, "insert", lagLoad, 1000);
      natLag = lag(s);
    }
    String[] names = {"p50", "p99", "max"};
    for (int i = 0; i < 3; i++) {
      results.add(
          new String[] {
            "3 lag " + names[i] + " at 1,000 inserts/s (ms)",
            Rounds.fmt(repLag[i]),
            Rounds.fmt(walLag[i]),
            Rounds.fmt(natLag[i]),
            ratio(walLag[i], natLag[i])
          });
    }
  }

  private void fanOut(Duration load) throws Exception {
    Rounds[] rep = {new Rounds(), new Rounds()};
    Rounds[] wal = {new Rounds(), new Rounds()};
    Rounds[] nat = {new Rounds(), new Rounds()};
    int[] counts = {1, 4};
    for (int round = 1; round <= rounds; round++) {
      announce(round);
      for (int i = 0; i < 2; i++) {
        try (Setup s = replicador("trigger", counts[i], false)) {
          rep[i].add(pgbench(s, "insert", load, 0).tps);
        }
        try (Setup s = replicador("wal", counts[i], false)) {
          wal[i].add(pgbench(s, "insert", load, 0).tps);
        }
        try (Setup s = nativeReplication(counts[i], false)) {
          nat[i].add(pgbench(s, "insert", load, 0).tps);
        }
      }
    }
    for (int i = 0; i < 2; i++) {
      record("4 primary TPS with " + counts[i] + " replica(s)", rep[i], wal[i], nat[i]);
    }
    record(
        "4 TPS with 4 replicas / with 1",
        rep[1].over(rep[0]),
        wal[1].over(wal[0]),
        nat[1].over(nat[0]));
  }

  // ---------------------------------------------------------------- setups

  private static final String TABLE =
      "CREATE TABLE items (id bigint PRIMARY KEY, ts timestamptz NOT NULL DEFAULT clock_timestamp(),"
          + " n int NOT NULL DEFAULT 0, payload text)";
  private static final String LAG_TRIGGER =
      "CREATE TABLE lag (id bigint, primary_ts timestamptz, replica_ts timestamptz);"
          + "CREATE FUNCTION note_lag() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          + " INSERT INTO public.lag VALUES (NEW.id, NEW.ts, clock_timestamp()); RETURN NULL; END $$;"
          + "CREATE TRIGGER note_lag AFTER INSERT OR UPDATE ON items FOR EACH ROW"
          + " EXECUTE FUNCTION note_lag();"
          + "ALTER TABLE items ENABLE ALWAYS TRIGGER note_lag;";

  private Setup plain() {
    Setup s = new Setup();
    s.primaryDb = primary.createDatabase("bench_" + (++databases));
    exec(primary, s.primaryDb, TABLE, "CREATE SEQUENCE ids");
    return s;
  }

  /**
   * Capture installed and nothing shipping it: what the triggers alone cost the primary. The
   * doorbell is left unarmed, as a busy publisher leaves it.
   */
  private Setup captureAlone() throws Exception {
    Setup s = plain();
    try (Connection c = primary.connect(s.primaryDb);
        Statement st = c.createStatement()) {
      new CaptureInstaller(c).install(List.of(TableName.parse("items")));
      st.execute("SELECT setval('replicador.bell', 0)");
    }
    return s;
  }

  /**
   * Capture from a slot that the publisher reads and ships, with a queue bound that nobody
   * consumes: what the WAL source alone costs the primary.
   */
  private Setup walAlone() throws Exception {
    Setup s = plain();
    try (Connection c = primary.connect(s.primaryDb)) {
      new WalCaptureInstaller(c).install(List.of(TableName.parse("items")));
    }
    s.slot = true;
    s.exchange = "replicador-bench." + s.primaryDb + "." + System.nanoTime();
    s.queues.add(replicaName(s.primaryDb + "_unread"));
    TestEnvironment.declareReplicaQueue(
        s.exchange, replicaName(s.primaryDb + "_unread"), QueueType.QUORUM);
    s.start(
        new ChangePublisher(
            PublisherSettings.defaults(
                PostgresAddress.parse("primary", primary.uri(s.primaryDb)),
                BrokerAddress.parse(TestEnvironment.amqpUri()),
                s.exchange)));
    return s;
  }

  private Setup replicador(String capture, int replicaCount, boolean lag) throws Exception {
    Setup s = plain();
    for (int i = 0; i < replicaCount; i++) {
      String db = replicas.createDatabase(s.primaryDb + "_r" + i);
      exec(replicas, db, TABLE);
      if (lag) {
        exec(replicas, db, LAG_TRIGGER);
      }
      s.replicaDbs.add(db);
    }
    try (Connection c = primary.connect(s.primaryDb)) {
      if (capture.equals("wal")) {
        new WalCaptureInstaller(c).install(List.of(TableName.parse("items")));
        s.slot = true;
      } else {
        new CaptureInstaller(c).install(List.of(TableName.parse("items")));
      }
    }
    s.pipeline =
        Pipeline.start(
            TestEnvironment.amqpUri(),
            primary,
            s.primaryDb,
            replicas,
            s.replicaDbs,
            s.replicaDbs.stream().map(this::replicaName).toList(),
            "replicador-bench." + s.primaryDb + "." + System.nanoTime(),
            QueueType.QUORUM);
    return s;
  }

  private Setup nativeReplication(int replicaCount, boolean lag) throws Exception {
    Setup s = plain();
    exec(primary, s.primaryDb, "CREATE PUBLICATION bench FOR TABLE items");
    for (int i = 0; i < replicaCount; i++) {
      String db = replicas.createDatabase(s.primaryDb + "_r" + i);
      exec(replicas, db, TABLE);
      if (lag) {
        exec(replicas, db, LAG_TRIGGER);
      }
      exec(
          replicas,
          db,
          "CREATE SUBSCRIPTION bench_"
              + i
              + "_"
              + s.primaryDb
              + " CONNECTION 'host=127.0.0.1 port="
              + primary.port()
              + " dbname="
              + s.primaryDb
              + " user=postgres'"
              + " PUBLICATION bench WITH (copy_data = false)");
      s.replicaDbs.add(db);
      s.subscriptions.add(db);
    }
    for (String db : s.replicaDbs) {
      Await.isTrue(
          replicas,
          db,
          "SELECT count(*) = 1 FROM pg_stat_subscription WHERE pid IS NOT NULL",
          Duration.ofSeconds(60));
    }
    return s;
  }

  // ---------------------------------------------------------------- measuring

  private record PgbenchResult(double tps) {}

  private PgbenchResult pgbench(Setup s, String kind, Duration duration, int rate)
      throws Exception {
    String script = Pgbench.INSERT;
    if (!kind.equals("insert")) {
      exec(
          primary,
          s.primaryDb,
          "INSERT INTO items (id, payload) SELECT g, 'x' FROM generate_series(1, 100000) g",
          "SELECT setval('ids', 100000)");
      awaitRow(s, 100_000, Duration.ofMinutes(5));
      script =
          "\\set id random(1, 100000)\n"
              + "UPDATE items SET n = n + 1, ts = clock_timestamp() WHERE id = :id;\n";
    }
    CpuMeter cpu = new CpuMeter(Map.of("primary", primary, "replicas", replicas));
    Map<String, Double> cpuBefore = cpu.sample();
    double tps = Pgbench.tps(primary, s.primaryDb, script, duration, rate);
    System.out.printf(
        Locale.ROOT,
        "    pgbench %s: CPU %s%n",
        kind,
        CpuMeter.difference(cpuBefore, cpu.sample()));
    if (kind.equals("insert")) {
      long last = Long.parseLong(query(primary, s.primaryDb, "SELECT last_value FROM ids"));
      awaitRow(s, last, Duration.ofMinutes(5));
    }
    return new PgbenchResult(tps);
  }

  /** p50, p99 and max of commit-to-visible lag in ms, over the replicas' lag tables. */
  private double[] lag(Setup s) {
    String db = s.replicaDbs.get(0);
    String row =
        query(
            replicas,
            db,
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) || ',' ||"
                + " percentile_cont(0.99) WITHIN GROUP (ORDER BY d) || ',' || max(d)"
                + " FROM (SELECT extract(epoch FROM replica_ts - primary_ts) * 1000 AS d"
                + " FROM lag) x");
    String[] parts = row.split(",");
    return new double[] {
      Double.parseDouble(parts[0]), Double.parseDouble(parts[1]), Double.parseDouble(parts[2])
    };
  }

  private void awaitRow(Setup s, long id, Duration timeout) throws Exception {
    for (String db : s.replicaDbs) {
      Await.isTrue(
          replicas, db, "SELECT EXISTS (SELECT 1 FROM items WHERE id = " + id + ")", timeout);
    }
  }

  // ---------------------------------------------------------------- plumbing

  private final class Setup implements AutoCloseable {
    String primaryDb;
    String exchange;
    Pipeline pipeline;
    boolean slot;
    final List<String> replicaDbs = new ArrayList<>();
    final List<String> queues = new ArrayList<>();
    final List<String> subscriptions = new ArrayList<>();
    final List<AutoCloseable> services = new ArrayList<>();

    <T extends Runnable & AutoCloseable> void start(T service) {
      Thread t = new Thread(service, "bench-" + service.getClass().getSimpleName());
      t.setDaemon(true);
      t.start();
      services.add(service);
    }

    @Override
    public void close() throws Exception {
      for (AutoCloseable c : services) {
        c.close();
      }
      if (pipeline != null) {
        pipeline.close();
      }
      for (String db : subscriptions) {
        exec(
            replicas,
            db,
            "DROP SUBSCRIPTION IF EXISTS bench_" + subscriptions.indexOf(db) + "_" + primaryDb);
      }
      if (exchange != null) {
        TestEnvironment.deleteBrokerObjects(exchange, queues.toArray(String[]::new));
      }
      if (slot) {
        // a slot left behind would hold WAL through the rounds that follow
        Await.isTrue(
            primary,
            primaryDb,
            "SELECT count(*) = 0 FROM (SELECT pg_drop_replication_slot(slot_name)"
                + " FROM pg_replication_slots WHERE database = current_database()"
                + " AND active_pid IS NULL) d",
            Duration.ofSeconds(60));
      }
    }
  }

  private void record(String title, Rounds rep, Rounds wal, Rounds nat) {
    results.add(
        new String[] {
          title, rep.summary(), wal.summary(), nat.summary(), wal.over(nat).summaryAsRatio()
        });
    System.out.printf(
        Locale.ROOT,
        "  %s: triggers %s, WAL %s, native %s%n",
        title,
        rep.summary(),
        wal.summary(),
        nat.summary());
  }

  private static String ratio(double a, double b) {
    return b == 0 ? "-" : String.format(Locale.ROOT, "%.2fx", a / b);
  }

  private static double seconds(long nanos) {
    return nanos / 1e9;
  }
}
