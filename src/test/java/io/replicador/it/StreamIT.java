package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
}
