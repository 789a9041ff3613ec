package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicador.cli.Main;
import io.replicador.testing.ReplicadorProcess;
import io.replicador.testing.TestEnvironment;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The edges of a replica's life and of the long-running commands, driven through the real CLI:
 * mistakes that waiting cannot heal end the command at once with one line and exit 2; a stop says
 * so in the log; nothing waiting is dropped without being asked. Regression tests of issue 20.
 */
class LifecycleIT {
  private ReplicationFixture fx;
  private String replicaDb;

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "CREATE TABLE public.users (id int PRIMARY KEY, name text)");
    exec(fx.replicaCluster, replicaDb, "CREATE TABLE public.users (id int PRIMARY KEY, name text)");
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  /** The exit status and what went to standard error. */
  private record Run(int status, String err) {}

  private static Run run(String... args) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream saved = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int status = Main.run(args);
      return new Run(status, err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setErr(saved);
    }
  }

  private void install() {
    assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", "public.users"))
        .isZero();
  }

  /** Capture, a listener r1 and a publisher running, and one row replicated. */
  private void replicateOneRow() {
    install();
    fx.startListener("r1", java.util.Set.of());
    fx.startPublisher();
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO public.users VALUES (1, 'a')");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> "1".equals(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM users")));
  }

  private static String wrongBrokerPassword() {
    String uri = TestEnvironment.amqpUri();
    assertThat(uri).contains("guest:guest@");
    return uri.replace("guest:guest@", "guest:not-the-password@");
  }

  @Test
  void publishStopsAtOnceWhenCaptureIsNotInstalled() {
    Run r =
        run(
            "publish",
            "--primary",
            fx.primaryUri(),
            "--exchange",
            fx.exchange,
            "--amqp",
            TestEnvironment.amqpUri());
    assertThat(r.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(r.err()).contains("not installed").contains("replicador install").hasLineCount(1);
  }

  @Test
  void publishAndListenStopAtOnceOnAWrongBrokerPassword() {
    install();
    Run p =
        run(
            "publish",
            "--primary",
            fx.primaryUri(),
            "--exchange",
            fx.exchange,
            "--amqp",
            wrongBrokerPassword());
    assertThat(p.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(p.err()).doesNotContain("not-the-password").hasLineCount(1);
    Run l =
        run(
            "listen",
            "--replica",
            fx.replicaCluster.uri(replicaDb),
            "--name",
            fx.replicaName("r1"),
            "--exchange",
            fx.exchange,
            "--amqp",
            wrongBrokerPassword());
    assertThat(l.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(l.err()).doesNotContain("not-the-password").hasLineCount(1);
  }

  @Test
  void aStandbyPublisherThatCannotUseTheBrokerNeverWaitsToTakeOver() {
    install();
    fx.startPublisher(); // the active one
    Run standby =
        run(
            "publish",
            "--primary",
            fx.primaryUri(),
            "--exchange",
            fx.exchange,
            "--amqp",
            wrongBrokerPassword());
    assertThat(standby.status()).isEqualTo(Main.EXIT_ERROR);
  }

  @Test
  void listenStopsAtOnceOnAnUnknownDatabaseAndOnAnUnknownTable() {
    // short: PostgreSQL cuts names at 63 bytes, and the test database name is long
    String nowhere = fx.replicaCluster.uri("nosuch_" + Long.toHexString(System.nanoTime()));
    Run db =
        run(
            "listen",
            "--replica",
            nowhere,
            "--name",
            fx.replicaName("r1"),
            "--exchange",
            fx.exchange,
            "--amqp",
            TestEnvironment.amqpUri());
    assertThat(db.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(db.err()).contains("does not exist").contains("3D000").hasLineCount(1);
    Run table =
        run(
            "listen",
            "--replica",
            fx.replicaCluster.uri(replicaDb),
            "--name",
            fx.replicaName("r1"),
            "--exchange",
            fx.exchange,
            "--amqp",
            TestEnvironment.amqpUri(),
            "--tables",
            "public.users,public.nosuch");
    assertThat(table.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(table.err())
        .contains("\"public\".\"nosuch\"")
        .contains("does not exist on the replica")
        .doesNotContain("\"users\"")
        .hasLineCount(1);
  }

  private static String lastLine(String text) {
    return text.lines().reduce((a, b) -> b).orElse("");
  }

  /** A port of 127.0.0.1 where nothing listens. */
  private static int closedPort() throws Exception {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void aServerThatIsDownAtStartIsWaitedForUntilTheConnectTimeout() throws Exception {
    install();
    String down = "amqp://guest:guest@127.0.0.1:" + closedPort() + "/";
    Run p =
        run(
            "publish",
            "--primary",
            fx.primaryUri(),
            "--exchange",
            fx.exchange,
            "--amqp",
            down,
            "--connect-timeout",
            "2");
    assertThat(p.status()).isEqualTo(Main.EXIT_ERROR);
    // waiting says so in the log; giving up is the one line of the error
    assertThat(p.err()).contains("cannot start yet").contains("waiting for the servers");
    assertThat(lastLine(p.err()))
        .startsWith("replicador: Could not start within --connect-timeout 2 s")
        .contains("Cannot connect to RabbitMQ at 127.0.0.1:");
    Run l =
        run(
            "listen",
            "--replica",
            "postgresql://postgres@127.0.0.1:" + closedPort() + "/x",
            "--name",
            fx.replicaName("r1"),
            "--exchange",
            fx.exchange,
            "--amqp",
            TestEnvironment.amqpUri(),
            "--connect-timeout",
            "2");
    assertThat(l.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(lastLine(l.err()))
        .startsWith("replicador: Could not start within --connect-timeout 2 s");
  }

  @Test
  void aReplicaNameBelongsToOneDatabaseUntilASnapshotMovesIt() throws Exception {
    replicateOneRow();
    fx.stopServices();
    // another database under the same name is refused: it would take replica1's changes
    String other = fx.replicaDb("other");
    exec(fx.replicaCluster, other, "CREATE TABLE public.users (id int PRIMARY KEY, name text)");
    String[] listenOther = {
      "listen",
      "--replica",
      fx.replicaCluster.uri(other),
      "--name",
      fx.replicaName("r1"),
      "--exchange",
      fx.exchange,
      "--amqp",
      TestEnvironment.amqpUri()
    };
    Run refused = run(listenOther);
    assertThat(refused.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(lastLine(refused.err()))
        .contains("Replica name " + fx.replicaName("r1") + " belongs to database")
        .contains("/r1_") // database names are cut at 63 bytes
        .contains(", not to this one (")
        .contains("--name of its own");
    // a snapshot under that name moves it; then the first database is the one refused
    assertThat(
            Main.run(
                "snapshot",
                "--primary",
                fx.primaryUri(),
                "--replica",
                fx.replicaCluster.uri(other),
                "--name",
                fx.replicaName("r1"),
                "--exchange",
                fx.exchange,
                "--amqp",
                TestEnvironment.amqpUri()))
        .isZero();
    Run first =
        run(
            "listen",
            "--replica",
            fx.replicaCluster.uri(replicaDb),
            "--name",
            fx.replicaName("r1"),
            "--exchange",
            fx.exchange,
            "--amqp",
            TestEnvironment.amqpUri());
    assertThat(first.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(lastLine(first.err())).contains("/other_").contains(", not to this one (");
  }

  @Test
  void removeReplicaDropsItsQueuesAndPositionsOnceItsListenerIsStopped() throws Exception {
    replicateOneRow();
    String[] remove = {
      "remove-replica",
      "--name",
      fx.replicaName("r1"),
      "--amqp",
      TestEnvironment.amqpUri(),
      "--replica",
      fx.replicaCluster.uri(replicaDb)
    };
    Run busy = run(remove);
    assertThat(busy.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(lastLine(busy.err())).contains("a listener is consuming").contains("stop it first");
    fx.stopServices();
    assertThat(Main.run(remove)).isZero();
    assertThat(
            query(
                fx.replicaCluster,
                replicaDb,
                "SELECT count(*) FROM replicador.applied WHERE consumer = '"
                    + fx.replicaName("r1")
                    + "'"))
        .isEqualTo("0");
    try (io.replicador.broker.QueueInspector q =
        new io.replicador.broker.QueueInspector(
            io.replicador.broker.BrokerAddress.parse(TestEnvironment.amqpUri()), "test")) {
      assertThat(q.inspect("replicador." + fx.replicaName("r1"))).isEmpty();
    }
  }

  @Test
  void uninstallRefusesToDropChangesNotYetShippedUnlessTheyAreDiscarded() {
    install();
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO public.users VALUES (1, 'a'), (2, 'b')");
    Run refused = run("uninstall", "--primary", fx.primaryUri());
    assertThat(refused.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(refused.err())
        .contains("2 change(s) of 1 transaction(s) not yet shipped")
        .contains("--discard-backlog")
        .hasLineCount(1);
    assertThat(query(fx.primaryCluster, fx.primaryDb, "SELECT count(*) FROM replicador.changelog"))
        .isEqualTo("1");
    assertThat(Main.run("uninstall", "--primary", fx.primaryUri(), "--discard-backlog")).isZero();
    assertThat(query(fx.primaryCluster, fx.primaryDb, "SELECT to_regnamespace('replicador')"))
        .isNull();
  }

  @Test
  void aStoppedListenerAndPublisherSayWhatTheyFinished() throws Exception {
    install();
    String r2 = fx.replicaDb("r2");
    exec(fx.replicaCluster, r2, "CREATE TABLE public.users (id int PRIMARY KEY, name text)");
    TestEnvironment.declareReplicaQueue(
        fx.exchange, fx.replicaName("r2"), io.replicador.broker.QueueType.QUORUM);
    ReplicadorProcess listener =
        ReplicadorProcess.start(
            "listen",
            "--replica",
            fx.replicaCluster.uri(r2),
            "--name",
            fx.replicaName("r2"),
            "--exchange",
            fx.exchange,
            "--amqp",
            TestEnvironment.amqpUri());
    ReplicadorProcess publisher =
        ReplicadorProcess.start(
            "publish",
            "--primary",
            fx.primaryUri(),
            "--exchange",
            fx.exchange,
            "--amqp",
            TestEnvironment.amqpUri());
    try {
      exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO public.users VALUES (1, 'a')");
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> "1".equals(query(fx.replicaCluster, r2, "SELECT count(*) FROM users")));
    } finally {
      publisher.close(); // SIGTERM, as a service manager stops it
      listener.close();
    }
    assertThat(publisher.output())
        .contains("stopping on request")
        .containsPattern("stopped; it shipped [1-9]\\d* transaction");
    assertThat(listener.output())
        .contains("stopping on request")
        .containsPattern("stopped; it applied [1-9]\\d* message");
  }
}
