package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.broker.StreamEnd;
import io.replicador.broker.StreamRetention;
import io.replicador.broker.StreamTopology;
import io.replicador.cli.Main;
import io.replicador.config.PostgresAddress;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import io.replicador.testing.CliRun;
import io.replicador.testing.ReplicadorProcess;
import io.replicador.testing.RequiresRabbitMq;
import io.replicador.testing.TestEnvironment;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * {@code --queue-type stream} (issue 22): one stream for all replicas, each reading it from the
 * offset it saves on the replica; late joiners, a listener killed under writes, retention that
 * drops what a replica still needs, one listener per replica, foreign messages, and a publisher
 * whose stream settings differ from the stream's.
 */
@RequiresRabbitMq("streams")
class StreamIT {
  private static final Duration WAIT = Duration.ofSeconds(60);

  private ReplicationFixture fx;
  private final List<AutoCloseable> running = new ArrayList<>();
  private final List<ReplicadorProcess> processes = new ArrayList<>();
  private final Map<String, String> databases = new java.util.HashMap<>();

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture("s_" + info.getTestMethod().orElseThrow().getName());
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "CREATE TABLE public.t (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0)");
    assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", "public.t")).isZero();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (ReplicadorProcess p : processes) {
      p.close();
    }
    for (AutoCloseable c : running) {
      c.close();
    }
    fx.close();
  }

  private String replica(String replica) {
    String db = fx.replicaDb(replica);
    databases.put(replica, db);
    exec(
        fx.replicaCluster,
        db,
        "CREATE TABLE public.t (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0)");
    return db;
  }

  /** Logs every row the listener writes into t, so that a change applied twice shows. */
  private void logApplies(String db) {
    exec(
        fx.replicaCluster,
        db,
        "CREATE TABLE apply_log (id int, op text)",
        "CREATE FUNCTION log_apply() RETURNS trigger LANGUAGE plpgsql AS"
            + " $$ BEGIN INSERT INTO apply_log VALUES (NEW.id, TG_OP); RETURN NULL; END $$",
        "CREATE TRIGGER log_apply AFTER INSERT OR UPDATE ON t"
            + " FOR EACH ROW EXECUTE FUNCTION log_apply()",
        "ALTER TABLE t ENABLE ALWAYS TRIGGER log_apply");
  }

  private void assertAppliedOnce(String db) {
    assertThat(query(fx.replicaCluster, db, "SELECT count(*) - count(DISTINCT id) FROM apply_log"))
        .as("rows written twice")
        .isEqualTo("0");
  }

  /** Inserts rows 1..600 one per transaction; rows from 301 on wait for {@code faulted}. */
  private CompletableFuture<Void> insertRows(CountDownLatch faulted) {
    return CompletableFuture.runAsync(
        () -> {
          try (java.sql.Connection c = fx.primaryCluster.connect(fx.primaryDb);
              PreparedStatement ps = c.prepareStatement("INSERT INTO t VALUES (?, ?)")) {
            for (int i = 1; i <= 600; i++) {
              if (i == 301) {
                faulted.await();
              }
              ps.setInt(1, i);
              ps.setString(2, "row " + i);
              ps.executeUpdate();
            }
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
  }

  private ChangePublisher publisher(StreamRetention retention) {
    ChangePublisher p =
        new ChangePublisher(
            PublisherSettings.defaults(
                    PostgresAddress.parse("primary", fx.primaryUri()),
                    BrokerAddress.parse(TestEnvironment.amqpUri()),
                    fx.exchange)
                .withStream(retention));
    start(p, "publisher");
    return p;
  }

  private ReplicaListener listener(String replica) {
    ReplicaListener l =
        new ReplicaListener(
            new ListenerSettings(
                PostgresAddress.parse("replica", fx.replicaCluster.uri(databases.get(replica))),
                BrokerAddress.parse(TestEnvironment.amqpUri()),
                fx.exchange,
                fx.replicaName(replica),
                QueueType.STREAM,
                Set.of(),
                16));
    start(l, "listener-" + replica);
    return l;
  }

  private <T extends Runnable & AutoCloseable> void start(T service, String what) {
    Thread t = new Thread(service, "test-" + what);
    t.setDaemon(true);
    t.start();
    running.add(service);
  }

  private String[] listenArgs(String replica, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "listen",
                "--replica",
                fx.replicaCluster.uri(databases.get(replica)),
                "--amqp",
                TestEnvironment.amqpUri(),
                "--exchange",
                fx.exchange,
                "--name",
                fx.replicaName(replica),
                "--queue-type",
                "stream",
                "--connect-timeout",
                "30"));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  private void write(int from, int to) {
    for (int i = from; i <= to; i++) {
      exec(
          fx.primaryCluster,
          fx.primaryDb,
          "INSERT INTO t VALUES (" + i + ", 'row " + i + "')",
          "UPDATE t SET n = n + 1 WHERE id % 3 = 0 AND id <= " + i);
    }
    exec(fx.primaryCluster, fx.primaryDb, "DELETE FROM t WHERE id % 7 = 0 AND id <= " + to);
  }

  private String primaryRows() {
    return ReplicationFixture.rowsText(fx.primaryCluster, fx.primaryDb, "t", "id");
  }

  private String rows(String db) {
    return ReplicationFixture.rowsText(fx.replicaCluster, db, "t", "id");
  }

  private void awaitEqual(String... dbs) {
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () -> {
              String expected = primaryRows();
              for (String db : dbs) {
                assertThat(rows(db)).as(db).isEqualTo(expected);
              }
            });
  }

  private static Connection amqp() throws Exception {
    return BrokerAddress.parse(TestEnvironment.amqpUri()).factory().newConnection();
  }

  private boolean queueExists(String queue) throws Exception {
    try (Connection c = amqp()) {
      Channel ch = c.createChannel();
      try {
        ch.queueDeclarePassive(queue);
        return true;
      } catch (java.io.IOException e) {
        return false;
      }
    }
  }

  @Test
  void twoReplicasReadTheOneStreamAndEqualThePrimary() throws Exception {
    String r1 = replica("r1");
    String r2 = replica("r2");
    publisher(StreamRetention.NONE);
    listener("r1");
    listener("r2");
    write(1, 30);
    awaitEqual(r1, r2);
    // the broker holds the changes once, in the stream: the replicas have no queues of their own
    assertThat(queueExists(StreamTopology.streamName(fx.exchange))).isTrue();
    assertThat(queueExists("replicador." + fx.replicaName("r1"))).isFalse();
    assertThat(queueExists("replicador." + fx.replicaName("r2"))).isFalse();
  }

  @Test
  void aLateReplicaListeningAloneOnEmptyTablesReplaysTheStream() {
    publisher(StreamRetention.NONE);
    String r1 = replica("r1");
    listener("r1");
    write(1, 20);
    awaitEqual(r1);
    String late = replica("late");
    listener("late");
    write(21, 25);
    awaitEqual(r1, late);
  }

  @Test
  void snapshotThenListenAppliesOnlyWhatTheCopyLacks() {
    publisher(StreamRetention.NONE);
    write(1, 20);
    String r1 = replica("r1");
    CliRun snap =
        CliRun.of(
            "snapshot",
            "--primary",
            fx.primaryUri(),
            "--replica",
            fx.replicaCluster.uri(r1),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange,
            "--name",
            fx.replicaName("r1"),
            "--queue-type",
            "stream");
    assertThat(snap.status()).as(snap.err()).isZero();
    write(21, 30);
    listener("r1");
    awaitEqual(r1);
  }

  private ReplicadorProcess track(ReplicadorProcess p) {
    processes.add(p);
    return p;
  }

  private long count(String db) {
    return Long.parseLong(query(fx.replicaCluster, db, "SELECT count(*) FROM t"));
  }

  @Test
  void aListenerKilledUnderWritesResumesFromItsSavedOffset() throws Exception {
    String r1 = replica("r1");
    logApplies(r1);
    publisher(StreamRetention.NONE);
    ReplicadorProcess first = track(ReplicadorProcess.start(listenArgs("r1", "--prefetch", "8")));
    CountDownLatch killed = new CountDownLatch(1);
    CompletableFuture<Void> writes = insertRows(killed);
    await().atMost(WAIT).until(() -> count(r1) >= 100);
    first.kill();
    killed.countDown();
    ReplicadorProcess second = track(ReplicadorProcess.start(listenArgs("r1", "--prefetch", "8")));
    writes.get(60, TimeUnit.SECONDS);
    awaitEqual(r1);
    assertAppliedOnce(r1);
    assertThat(second.output()).as(second.output()).contains("' at offset ");
  }

  @Test
  @RequiresRabbitMq("rabbitmqctl closes the broker's connections")
  void theBrokerDroppingEveryConnectionLosesNothingAndAppliesNothingTwice() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        rabbitmqctl("list_connections", "name").isPresent(),
        "needs rabbitmqctl for the local RabbitMQ to close connections");
    String r1 = replica("r1");
    logApplies(r1);
    publisher(StreamRetention.NONE);
    listener("r1");
    CountDownLatch dropped = new CountDownLatch(1);
    CompletableFuture<Void> writes = insertRows(dropped);
    await().atMost(WAIT).until(() -> count(r1) >= 100);
    String connections = rabbitmqctl("list_connections", "pid", "client_properties").orElseThrow();
    int closed = 0;
    for (String line : connections.lines().toList()) {
      if (line.contains(fx.name)) {
        rabbitmqctl("close_connection", line.split("\t")[0], "test closes it");
        closed++;
      }
    }
    assertThat(closed).as("connections of this test found").isGreaterThanOrEqualTo(2);
    dropped.countDown();
    writes.get(60, TimeUnit.SECONDS);
    awaitEqual(r1);
    assertAppliedOnce(r1);
  }

  private static java.util.Optional<String> rabbitmqctl(String... args) {
    try {
      List<String> cmd = new ArrayList<>(List.of("rabbitmqctl", "-q"));
      cmd.addAll(List.of(args));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0
          ? java.util.Optional.of(out)
          : java.util.Optional.empty();
    } catch (java.io.IOException e) {
      return java.util.Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return java.util.Optional.empty();
    }
  }

  /** The offset of the stream's first retained message, by consuming from "first". */
  private long firstOffset() throws Exception {
    try (Connection c = amqp()) {
      Channel ch = c.createChannel();
      ch.basicQos(1);
      java.util.concurrent.BlockingQueue<Long> got =
          new java.util.concurrent.LinkedBlockingQueue<>();
      ch.basicConsume(
          StreamTopology.streamName(fx.exchange),
          false,
          "",
          false,
          false,
          Map.of(StreamEnd.OFFSET_HEADER, "first"),
          new com.rabbitmq.client.DefaultConsumer(ch) {
            @Override
            public void handleDelivery(
                String tag,
                com.rabbitmq.client.Envelope envelope,
                AMQP.BasicProperties props,
                byte[] body) {
              got.add(((Number) props.getHeaders().get(StreamEnd.OFFSET_HEADER)).longValue());
            }
          });
      Long first = got.poll(10, TimeUnit.SECONDS);
      return first == null ? -1 : first;
    }
  }

  private long savedOffset(String db) {
    return Long.parseLong(
        query(
            fx.replicaCluster,
            db,
            "SELECT coalesce(max(last_offset), -1) FROM replicador.stream_offset"));
  }

  @Test
  void aListenerWhoseNextMessageRetentionDroppedHaltsAndAsksForASnapshot() throws Exception {
    String r1 = replica("r1");
    publisher(StreamRetention.parse(null, "20kB", "4kB"));
    ReplicaListener l = listener("r1");
    write(1, 5);
    awaitEqual(r1);
    l.close();
    long saved = savedOffset(r1);
    assertThat(saved).isGreaterThanOrEqualTo(0);
    // each row about 1 kB: segments of 4 kB roll, and retention drops the oldest past 20 kB
    int[] next = {6};
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              for (int i = 0; i < 10; i++, next[0]++) {
                exec(
                    fx.primaryCluster,
                    fx.primaryDb,
                    "INSERT INTO t VALUES (" + next[0] + ", repeat('x', 1000))");
              }
              return firstOffset() > saved + 1;
            });
    CliRun run = CliRun.of(listenArgs("r1"));
    assertThat(run.status()).as(run.err()).isEqualTo(Main.EXIT_ERROR);
    // the log lines before it aside, one line says why and what to do
    assertThat(run.err().lines().filter(line -> line.startsWith("replicador: ")).toList())
        .singleElement()
        .asString()
        .contains("dropped by the stream's retention")
        .contains("replicador snapshot");
    assertThat(query(fx.replicaCluster, r1, "SELECT reason FROM replicador.halted"))
        .contains("dropped by the stream's retention");
    // and a snapshot makes it whole again
    CliRun snap =
        CliRun.of(
            "snapshot",
            "--primary",
            fx.primaryUri(),
            "--replica",
            fx.replicaCluster.uri(r1),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange,
            "--name",
            fx.replicaName("r1"),
            "--queue-type",
            "stream");
    assertThat(snap.status()).as(snap.err()).isZero();
    listener("r1");
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO t VALUES (100000, 'after')");
    awaitEqual(r1);
  }

  @Test
  void aSecondListenerOfTheSameReplicaIsRefused() {
    String r1 = replica("r1");
    publisher(StreamRetention.NONE);
    listener("r1");
    write(1, 3);
    awaitEqual(r1);
    CliRun run = CliRun.of(listenArgs("r1"));
    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err()).contains("Another listener of replica").hasLineCount(1);
    // nor may the replica be removed or copied afresh under it
    CliRun remove =
        CliRun.of(
            "remove-replica",
            "--name",
            fx.replicaName("r1"),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange,
            "--replica",
            fx.replicaCluster.uri(r1));
    assertThat(remove.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(remove.err()).contains("a listener is reading the stream").contains("stop it");
    CliRun snap =
        CliRun.of(
            "snapshot",
            "--primary",
            fx.primaryUri(),
            "--replica",
            fx.replicaCluster.uri(r1),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange,
            "--name",
            fx.replicaName("r1"),
            "--queue-type",
            "stream");
    assertThat(snap.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(snap.err()).contains("a listener is reading the stream");
  }

  @Test
  void aForeignMessageIsDeadLetteredAndTheStreamKeepsApplying() throws Exception {
    String r1 = replica("r1");
    publisher(StreamRetention.NONE);
    listener("r1");
    write(1, 3);
    awaitEqual(r1);
    fx.publishRaw(
        "not a change message".getBytes(StandardCharsets.UTF_8),
        new AMQP.BasicProperties.Builder().messageId("foreign-1").deliveryMode(2).build());
    write(4, 8);
    awaitEqual(r1);
    String dead = "replicador." + fx.replicaName("r1") + ".dead";
    await()
        .atMost(WAIT)
        .until(
            () -> {
              try (Connection c = amqp()) {
                return c.createChannel().queueDeclarePassive(dead).getMessageCount() == 1;
              }
            });
  }

  @Test
  void aPublisherWhoseStreamSettingsDifferFromTheStreamsStopsWithTheFix() throws Exception {
    try (Connection c = amqp()) {
      Channel ch = c.createChannel();
      ch.queueDeclare(
          StreamTopology.streamName(fx.exchange),
          true,
          false,
          false,
          Map.of("x-queue-type", "stream", "x-max-age", "1D"));
    }
    CliRun run =
        CliRun.of(
            "publish",
            "--primary",
            fx.primaryUri(),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange,
            "--queue-type",
            "stream",
            "--stream-max-age",
            "7D");
    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err())
        .contains("exists with other settings")
        .contains("delete the stream")
        .hasLineCount(1);
  }

  @Test
  void statusShowsHowFarBehindTheStreamsEndAReplicaIs() throws Exception {
    String r1 = replica("r1");
    publisher(StreamRetention.NONE);
    ReplicaListener l = listener("r1");
    write(1, 3);
    awaitEqual(r1);
    l.close();
    write(4, 10);
    String[] status = {
      "status",
      "--primary",
      fx.primaryUri(),
      "--amqp",
      TestEnvironment.amqpUri(),
      "--exchange",
      fx.exchange,
      "--replica",
      fx.replicaName("r1") + "=" + fx.replicaCluster.uri(r1),
      "--json"
    };
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              CliRun run = CliRun.of(status);
              JsonNode replica = new ObjectMapper().readTree(run.out()).get("replicas").get(0);
              assertThat(replica.get("stream").asText())
                  .isEqualTo(StreamTopology.streamName(fx.exchange));
              assertThat(replica.get("streamBehind").asLong()).isGreaterThan(0);
            });
    listener("r1");
    awaitEqual(r1);
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              CliRun run = CliRun.of(status);
              JsonNode replica = new ObjectMapper().readTree(run.out()).get("replicas").get(0);
              assertThat(replica.get("streamBehind").asLong()).isZero();
            });
    // a queue left from before the replica read the stream fills up: status says so
    String old = "replicador." + fx.replicaName("r1");
    try (Connection c = amqp()) {
      Channel ch = c.createChannel();
      ch.queueDeclare(old, true, false, false, Map.of("x-queue-type", "quorum"));
      ch.queueBind(old, fx.exchange, "#");
    }
    JsonNode replica = new ObjectMapper().readTree(CliRun.of(status).out()).get("replicas").get(0);
    assertThat(replica.get("stream").asText()).isEqualTo(StreamTopology.streamName(fx.exchange));
    assertThat(replica.get("problem").asText())
        .contains("old queue " + old)
        .contains("rabbitmqctl delete_queue");
  }

  @Test
  void aStreamDeletedAndMadeAgainIsRefusedNotReadFromTheStart() throws Exception {
    String r1 = replica("r1");
    ChangePublisher p = publisher(StreamRetention.NONE);
    ReplicaListener l = listener("r1");
    write(1, 10);
    awaitEqual(r1);
    l.close();
    p.close();
    try (Connection c = amqp()) {
      c.createChannel().queueDelete(StreamTopology.streamName(fx.exchange));
    }
    publisher(StreamRetention.NONE); // makes the stream again, empty
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO t VALUES (1000, 'after')");
    await()
        .atMost(WAIT)
        .until(
            () ->
                "0"
                    .equals(
                        query(
                            fx.primaryCluster,
                            fx.primaryDb,
                            "SELECT count(*) FROM replicador.changelog")));
    CliRun run = CliRun.of(listenArgs("r1"));
    assertThat(run.status()).as(run.err()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err().lines().filter(line -> line.startsWith("replicador: ")).toList())
        .singleElement()
        .asString()
        .contains("deleted and made again")
        .contains("replicador snapshot");
  }
}
