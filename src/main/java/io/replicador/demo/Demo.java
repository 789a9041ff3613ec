package io.replicador.demo;

import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.QueueInspector;
import io.replicador.broker.QueueType;
import io.replicador.broker.ReplicaRegistry;
import io.replicador.broker.Topology;
import io.replicador.capture.CaptureInstaller;
import io.replicador.capture.WalCaptureInstaller;
import io.replicador.change.TableName;
import io.replicador.config.PostgresAddress;
import io.replicador.embedded.LocalPostgres;
import io.replicador.embedded.PostgresBinaries;
import io.replicador.metrics.ListenerMetrics;
import io.replicador.metrics.MetricsServer;
import io.replicador.metrics.PublisherMetrics;
import io.replicador.metrics.Readiness;
import io.replicador.publish.BacklogProbe;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import java.io.PrintStream;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The zero-setup demo: a PostgreSQL primary and two replicas run by this process, a broker (the
 * local RabbitMQ or an embedded one), capture on a {@code users} table, a publisher and two
 * listeners in this process, and a writer changing rows while a live view shows what is captured,
 * shipped and applied. Then it checks that both replicas equal the primary.
 *
 * <p>{@link #run} blocks; everything it started is stopped and deleted when it returns, or by a
 * shutdown hook when the process is stopped (Ctrl-C). Output goes to the given stream.
 */
public final class Demo {
  static final String DATABASE = "demo";
  static final TableName USERS = TableName.parse("public.users");
  private static final Duration CATCH_UP = Duration.ofSeconds(60);
  private static final String TOUCH =
      "CREATE FUNCTION public.users_touch() RETURNS trigger LANGUAGE plpgsql AS"
          + " $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;"
          + "CREATE TRIGGER users_touch BEFORE INSERT OR UPDATE ON public.users"
          + " FOR EACH ROW EXECUTE FUNCTION public.users_touch()";

  private final DemoSettings settings;
  private final PrintStream out;
  private final String runId = UUID.randomUUID().toString().substring(0, 8);
  private final List<AutoCloseable> resources = new ArrayList<>();
  private final AtomicBoolean cleanedUp = new AtomicBoolean();
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final Thread cleanupHook =
      new Thread(this::stoppedFromOutside, "replicador-demo-cleanup");

  public Demo(DemoSettings settings, PrintStream out) {
    this.settings = settings;
    this.out = out;
  }

  /** Runs the demo; returns 0 when both replicas match the primary, 1 when not. */
  public int run() throws Exception {
    Runtime.getRuntime().addShutdownHook(cleanupHook);
    try {
      return demo();
    } catch (Exception e) {
      if (stopping.get()) {
        return 130; // stopped by a signal: what failed is only the cleanup pulling things away
      }
      throw e;
    } finally {
      if (!settings.keepRunning()) {
        cleanUp();
        try {
          Runtime.getRuntime().removeShutdownHook(cleanupHook);
        } catch (IllegalStateException e) {
          // the JVM is shutting down; the hook ran or runs
        }
      }
    }
  }

  private int demo() throws Exception {
    out.println("Replicador demo: one primary, two replicas, changes flowing through a broker.");
    long t0 = System.nanoTime();
    Path bin = PostgresBinaries.locate();
    out.println("Starting three PostgreSQL servers from " + bin + " ...");
    List<LocalPostgres> servers = startServers(bin, "primary", "replica1", "replica2");
    LocalPostgres primary = servers.get(0);
    out.printf(
        Locale.ROOT,
        "  PostgreSQL %s: primary on port %d, replicas on ports %d and %d (%.1f s)%n",
        version(primary),
        primary.port(),
        servers.get(1).port(),
        servers.get(2).port(),
        (System.nanoTime() - t0) / 1e9);
    DemoBroker broker = own(DemoBroker.choose(settings.amqp(), settings.embeddedBroker()));
    out.println("Broker: " + broker.description());
    MetricsServer metrics =
        own(MetricsServer.start(settings.metrics(), "demo", List.of(), new Readiness()));
    out.println(
        "Metrics: http://"
            + metrics.address()
            + "/metrics (Prometheus text; docs/monitoring.md says what each one means)");

    for (LocalPostgres pg : servers) {
      pg.createDatabase(DATABASE);
      try (Connection c = pg.connect(DATABASE)) {
        DemoWriter.createTable(c);
        if (pg == primary) {
          try (Statement st = c.createStatement()) {
            st.execute(TOUCH);
          }
          if (settings.walCapture()) {
            new WalCaptureInstaller(c).install(List.of(USERS));
          } else {
            new CaptureInstaller(c).install(List.of(USERS));
          }
        }
      }
    }
    out.println(
        "Created table "
            + USERS
            + " on all three; installed capture on the primary ("
            + (settings.walCapture() ? "a logical replication slot" : "triggers")
            + ").");

    String exchange = "replicador-demo-" + runId;
    List<String> names = List.of("replica1", "replica2");
    List<ProgressProbe.Replica> watched = new ArrayList<>();
    declareQueues(broker, exchange, names);
    for (int i = 0; i < names.size(); i++) {
      LocalPostgres replica = servers.get(i + 1);
      ReplicaListener listener =
          new ReplicaListener(
              new ListenerSettings(
                  ownServer("replica", replica),
                  broker.address(),
                  exchange,
                  queueName(names.get(i)),
                  QueueType.QUORUM,
                  Set.of(),
                  ListenerSettings.DEFAULT_PREFETCH));
      listener.measuredBy(
          new ListenerMetrics(metrics.registry(), queueName(names.get(i)), new Readiness()));
      startThread(listener, "replicador-demo-listen-" + names.get(i));
      watched.add(new ProgressProbe.Replica(names.get(i), replica.connect(DATABASE), listener));
    }
    ChangePublisher publisher =
        new ChangePublisher(
            PublisherSettings.defaults(ownServer("primary", primary), broker.address(), exchange));
    PublisherMetrics publisherMetrics = new PublisherMetrics(metrics.registry());
    publisherMetrics.backlog(own(new BacklogProbe(ownServer("primary", primary))));
    publisher.measuredBy(publisherMetrics);
    startThread(publisher, "replicador-demo-publish");

    DemoWriter writer =
        new DemoWriter(
            primary.connect(DATABASE), settings.writeFor(), settings.transactionsPerSecond());
    ProgressProbe probe =
        own(
            new ProgressProbe(
                primary.connect(DATABASE), watched, writer::committed, settings.walCapture()));
    out.printf(
        Locale.ROOT,
        "Publisher and two listeners running. Writing about %d transactions a second for %d s"
            + " (inserts, updates, deletes).%n",
        settings.transactionsPerSecond(),
        settings.writeFor().toSeconds());
    startThread(writer, "replicador-demo-writer");

    LiveView view = new LiveView(out, settings.live(), settings.walCapture());
    view.header();
    while (!writer.isDone()) {
      view.show(probe.sample());
      writer.awaitFinished(Duration.ofSeconds(1));
    }
    writer.rethrow();
    long deadline = System.nanoTime() + CATCH_UP.toNanos();
    ProgressProbe.Sample s = probe.sample();
    while (!s.caughtUp() && System.nanoTime() < deadline) {
      view.show(s);
      TimeUnit.MILLISECONDS.sleep(250);
      s = probe.sample();
    }
    view.show(s);
    view.endLine();
    if (!s.caughtUp()) {
      out.println("The replicas did not catch up within " + CATCH_UP.toSeconds() + " s.");
    }

    int status = verify(servers, names);
    if (settings.keepRunning()) {
      keepRunning(servers, broker, exchange, probe, view);
    }
    return status;
  }

  private int verify(List<LocalPostgres> servers, List<String> names) throws SQLException {
    out.println("Checking: row count and md5 of every row of " + USERS + ", in key order.");
    TableChecksum want;
    try (Connection c = servers.get(0).connect(DATABASE)) {
      want = TableChecksum.of(c, USERS);
    }
    out.println("  primary:  " + want);
    boolean allMatch = true;
    for (int i = 0; i < names.size(); i++) {
      TableChecksum got;
      try (Connection c = servers.get(i + 1).connect(DATABASE)) {
        got = TableChecksum.of(c, USERS);
      }
      boolean match = got.equals(want);
      allMatch &= match;
      out.println(
          "  " + names.get(i) + ": " + got + (match ? "  same as the primary" : "  DIFFERENT"));
    }
    out.println(
        allMatch
            ? "Both replicas match the primary: every insert, update and delete arrived, once."
            : "The replicas do NOT match the primary.");
    return allMatch ? 0 : 1;
  }

  private void keepRunning(
      List<LocalPostgres> servers,
      DemoBroker broker,
      String exchange,
      ProgressProbe probe,
      LiveView view)
      throws InterruptedException {
    // a row that is there: the demo's writers delete rows as well
    long id = 1;
    try (java.sql.Connection c = servers.get(0).connect(DATABASE);
        java.sql.Statement st = c.createStatement();
        java.sql.ResultSet rs = st.executeQuery("SELECT coalesce(min(id), 1) FROM users")) {
      rs.next();
      id = rs.getLong(1);
    } catch (java.sql.SQLException e) {
      // keep 1: the hint is only an example
    }
    out.println();
    out.println("Everything keeps running. In another terminal, change rows on the primary:");
    out.println("  psql " + servers.get(0).uri(DATABASE) + "   # primary");
    out.println("    e.g. UPDATE users SET name = 'changed' WHERE id = " + id + ";");
    out.println("  psql " + servers.get(1).uri(DATABASE) + "   # replica1");
    out.println("  psql " + servers.get(2).uri(DATABASE) + "   # replica2");
    out.println("    e.g. SELECT * FROM users WHERE id = " + id + ";");
    out.println("Broker: " + broker.address() + ", exchange '" + exchange + "'.");
    out.println("Press Ctrl-C to stop; the servers and their data are removed then.");
    view.header();
    CountDownLatch never = new CountDownLatch(1);
    while (!cleanedUp.get()) {
      try {
        view.show(probe.sample());
      } catch (SQLException e) {
        if (cleanedUp.get()) {
          break; // shutting down under our feet
        }
        out.println("(cannot read progress: " + e.getMessage() + ")");
      }
      never.await(1, TimeUnit.SECONDS);
    }
  }

  private void declareQueues(DemoBroker broker, String exchange, List<String> names)
      throws Exception {
    List<String> queues = new ArrayList<>();
    try (QueueInspector c = new QueueInspector(broker.address(), "replicador-demo-setup")) {
      for (String name : names) {
        // declared before the publisher starts, so its first changes already have a queue
        c.declareReplicaQueue(exchange, queueName(name), QueueType.QUORUM);
        queues.add(Topology.queueName(queueName(name)));
        queues.add(Topology.deadLetterQueueName(queueName(name)));
        queues.add(ReplicaRegistry.ownerQueue(queueName(name)));
      }
    }
    queues.add(ReplicaRegistry.listQueue(exchange));
    broker.owns(exchange, queues.toArray(String[]::new));
  }

  private String queueName(String replica) {
    return "demo-" + runId + "-" + replica;
  }

  private List<LocalPostgres> startServers(Path bin, String... names) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(names.length);
    try {
      List<Future<LocalPostgres>> started = new ArrayList<>();
      for (String name : names) {
        started.add(pool.submit(() -> LocalPostgres.start("demo-" + name, bin)));
      }
      List<LocalPostgres> servers = new ArrayList<>();
      Exception failure = null;
      for (Future<LocalPostgres> f : started) {
        try {
          servers.add(own(f.get()));
        } catch (ExecutionException e) {
          failure = e.getCause() instanceof Exception ex ? ex : e;
        }
      }
      if (failure != null) {
        throw failure;
      }
      return servers;
    } finally {
      pool.shutdown();
    }
  }

  /**
   * The address of a server the demo started. The user's PG* variables (PGSSLMODE, PGPASSWORD) are
   * meant for their own servers and could only break these, so none apply.
   */
  private static PostgresAddress ownServer(String role, LocalPostgres pg) {
    return PostgresAddress.parse(role, pg.uri(DATABASE), Map.of());
  }

  private static String version(LocalPostgres pg) throws SQLException {
    try (Connection c = pg.connect("postgres");
        Statement st = c.createStatement();
        var rs = st.executeQuery("SHOW server_version")) {
      rs.next();
      return rs.getString(1).split(" ")[0];
    }
  }

  private <T extends Runnable & AutoCloseable> void startThread(T service, String name) {
    own(service);
    Thread t = new Thread(service, name);
    t.setDaemon(true);
    t.start();
  }

  private synchronized <T extends AutoCloseable> T own(T resource) {
    resources.add(resource);
    return resource;
  }

  private void stoppedFromOutside() {
    stopping.set(true);
    if (!cleanedUp.get()) {
      out.println();
      out.println("Stopping: the servers, their data and the demo's broker objects are removed.");
      cleanUp();
    }
  }

  /** Stops everything in reverse order of start; runs once (at the end or from the hook). */
  private void cleanUp() {
    if (!cleanedUp.compareAndSet(false, true)) {
      return;
    }
    List<AutoCloseable> all;
    synchronized (this) {
      all = new ArrayList<>(resources);
    }
    for (int i = all.size() - 1; i >= 0; i--) {
      try {
        all.get(i).close();
      } catch (Exception e) {
        // stopping: keep stopping the rest
      }
    }
  }
}
