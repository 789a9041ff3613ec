package io.replicador.it;

import static io.replicador.testing.Db.checksum;
import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueInspector;
import io.replicador.broker.QueueType;
import io.replicador.broker.StreamRetention;
import io.replicador.cli.Main;
import io.replicador.config.PostgresAddress;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import io.replicador.testing.PgCluster;
import io.replicador.testing.RabbitCluster;
import io.replicador.testing.RabbitNode;
import io.replicador.testing.TestEnvironment;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A three-node RabbitMQ cluster of the test's own, given to the publisher and the listener as three
 * URIs: kill -9 of the node the publisher is connected to, and of the node that leads the replica's
 * quorum queue, and of the node that leads the exchange's stream, under a steady stream of writes.
 * Both move to a surviving node, nothing is lost or applied twice, and the time from the kill to
 * the first applied change written after it is printed.
 */
class ClusterIT {
  private static RabbitCluster cluster;
  private final List<AutoCloseable> closeAfter = new ArrayList<>();

  @BeforeAll
  static void startCluster() {
    String why = RabbitNode.unavailable();
    Assumptions.assumeTrue(why == null, () -> "needs a RabbitMQ cluster of its own: " + why);
    cluster = RabbitCluster.start("cluster", 3);
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** Each test starts with all three nodes (the one before killed one). */
  @BeforeEach
  void allNodesUp() {
    cluster.restartKilled();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : closeAfter) {
      c.close();
    }
  }

  @Test
  void killingThePublishersNodeLosesNothing() throws Exception {
    Stream s = new Stream("cluster_publisher");
    s.awaitApplied(300);
    for (String queue :
        List.of(
            "replicador." + s.name,
            "replicador." + s.name + ".dead",
            "replicador:owner:" + s.name,
            "replicador:replicas:" + s.exchange)) {
      assertThat(s.queueInfo(queue, "type")).as(queue).isEqualTo("quorum");
      assertThat(s.queueInfo(queue, "members").split(",")).as(queue + " members").hasSize(3);
    }
    RabbitNode node = cluster.nodeOnPort(s.serverPortOf("replicador-publish:" + s.exchange));
    long killed = System.currentTimeMillis();
    node.kill();
    s.report("publisher's node", killed);
    s.awaitApplied(s.written.get() + 300);
    s.assertConverged();
  }

  @Test
  void killingTheQueueLeadersNodeLosesNothing() throws Exception {
    Stream s = new Stream("cluster_leader");
    s.awaitApplied(300);
    String leader = s.leaderOf("replicador." + s.name);
    long killed = System.currentTimeMillis();
    cluster.node(leader).kill();
    s.report("queue leader's node", killed);
    s.awaitApplied(s.written.get() + 300);
    s.assertConverged();
  }

  @Test
  void killingTheStreamLeadersNodeLosesNothing() throws Exception {
    Stream s = new Stream("cluster_stream", QueueType.STREAM);
    s.awaitApplied(300);
    String stream = "replicador:stream:" + s.exchange;
    assertThat(s.queueInfo(stream, "type")).isEqualTo("stream");
    assertThat(s.queueInfo(stream, "members").split(",")).as("stream members").hasSize(3);
    String leader = s.leaderOf(stream);
    long killed = System.currentTimeMillis();
    cluster.node(leader).kill();
    s.report("stream leader's node", killed);
    s.awaitApplied(s.written.get() + 300);
    s.assertConverged();
  }

  /** A primary and a replica database, a publisher, a listener and a writer, named after a test. */
  private final class Stream {
    final String name;
    final String exchange;
    final PgCluster primary = TestEnvironment.primaryCluster();
    final PgCluster replica = TestEnvironment.replicaCluster();
    final AtomicLong written = new AtomicLong();
    final AtomicBoolean writing = new AtomicBoolean(true);
    final CompletableFuture<Void> writer;

    Stream(String test) throws Exception {
      this(test, QueueType.QUORUM);
    }

    Stream(String test, QueueType type) throws Exception {
      name = TestEnvironment.uniqueName(test);
      exchange = "replicador-test." + name;
      primary.createDatabase(name);
      replica.createDatabase(name);
      String ddl =
          "CREATE TABLE events (id bigint PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT"
              + " clock_timestamp())";
      exec(primary, name, ddl);
      exec(
          replica,
          name,
          ddl,
          "CREATE TABLE apply_log (id bigint, op text, at timestamptz DEFAULT clock_timestamp())",
          "CREATE FUNCTION log_apply() RETURNS trigger LANGUAGE plpgsql AS"
              + " $$ BEGIN INSERT INTO apply_log (id, op) VALUES (NEW.id, TG_OP); RETURN NULL;"
              + " END $$",
          "CREATE TRIGGER log_apply AFTER INSERT OR UPDATE ON events"
              + " FOR EACH ROW EXECUTE FUNCTION log_apply()",
          "ALTER TABLE events ENABLE ALWAYS TRIGGER log_apply");
      assertThat(Main.run("install", "--primary", primary.uri(name), "--tables", "events"))
          .isZero();
      if (type != QueueType.STREAM) { // the stream holds changes shipped before the listener
        // declared (on all three nodes) before anything ships, so no change can miss it
        try (QueueInspector q = new QueueInspector(broker(), "replicador-test-declare")) {
          q.declareReplicaQueue(exchange, name, type);
        }
      }
      ReplicaListener listener =
          new ReplicaListener(
              new ListenerSettings(
                  PostgresAddress.parse("replica", replica.uri(name)),
                  broker(),
                  exchange,
                  name,
                  type,
                  Set.of(),
                  ListenerSettings.DEFAULT_PREFETCH));
      PublisherSettings settings =
          PublisherSettings.defaults(
              PostgresAddress.parse("primary", primary.uri(name)), broker(), exchange);
      ChangePublisher publisher =
          new ChangePublisher(
              type == QueueType.STREAM ? settings.withStream(StreamRetention.NONE) : settings);
      for (Runnable r : List.of(listener, publisher)) {
        Thread t = new Thread(r, "test-" + r.getClass().getSimpleName());
        t.setDaemon(true);
        t.start();
      }
      writer = CompletableFuture.runAsync(this::write);
      // closed in reverse: the writer first, then the publisher
      closeAfter.add(0, listener);
      closeAfter.add(0, publisher);
      closeAfter.add(0, this::stopWriting);
    }

    /** Each its own address: the listener and the publisher choose their nodes apart. */
    BrokerAddress broker() {
      return BrokerAddress.parse(cluster.amqpUris());
    }

    /** Single-row transactions, one after the other, until stopped. */
    private void write() {
      try (Connection c = primary.connect(name);
          PreparedStatement ps = c.prepareStatement("INSERT INTO events (id) VALUES (?)")) {
        while (writing.get()) {
          ps.setLong(1, written.get() + 1);
          ps.executeUpdate();
          written.incrementAndGet();
        }
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    }

    void stopWriting() {
      writing.set(false);
      writer.join();
    }

    /** The server port of the connection named {@code connection}, wherever it is. */
    int serverPortOf(String connection) {
      return await()
          .atMost(Duration.ofMinutes(1))
          .until(
              () ->
                  cluster
                      .ctl("list_connections", "-q", "port", "client_properties")
                      .lines()
                      .filter(l -> l.contains("\"" + connection + "\""))
                      .map(l -> Integer.parseInt(l.substring(0, l.indexOf('\t')).strip()))
                      .findFirst()
                      .orElse(null),
              p -> p != null);
    }

    /** The node that leads the quorum queue. */
    String leaderOf(String queue) {
      return queueInfo(queue, "leader");
    }

    /** One of rabbitmqctl list_queues' items of the queue. */
    String queueInfo(String queue, String item) {
      return cluster
          .ctl("list_queues", "-q", "name", item)
          .lines()
          .filter(l -> l.startsWith(queue + "\t"))
          .map(l -> l.substring(l.indexOf('\t') + 1).strip())
          .findFirst()
          .orElseThrow(() -> new IllegalStateException("no queue " + queue));
    }

    void awaitApplied(long rows) {
      await()
          .atMost(Duration.ofMinutes(3))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> Long.parseLong(query(replica, name, "SELECT count(*) FROM events")) >= rows);
    }

    /**
     * Waits for the first change written after the kill to be applied, and prints how long after
     * the kill that was.
     */
    void report(String what, long killedAtMillis) {
      String since = "to_timestamp(" + killedAtMillis + " / 1000.0)";
      String gap =
          await()
              .atMost(Duration.ofMinutes(3))
              .pollInterval(Duration.ofMillis(100))
              .until(
                  () ->
                      query(
                          replica,
                          name,
                          "SELECT round(extract(epoch FROM min(l.at) - "
                              + since
                              + ") * 1000) FROM apply_log l JOIN events e USING (id)"
                              + " WHERE e.written_at > "
                              + since),
                  g -> g != null && !g.isEmpty());
      System.out.printf("kill -9 of the %s: next change applied after %s ms%n", what, gap);
    }

    void assertConverged() {
      stopWriting();
      await()
          .atMost(Duration.ofMinutes(3))
          .pollInterval(Duration.ofMillis(250))
          .untilAsserted(
              () ->
                  assertThat(checksum(replica, name, "events", "id"))
                      .isEqualTo(checksum(primary, name, "events", "id")));
      assertThat(query(primary, name, "SELECT count(*) FROM events"))
          .isEqualTo(String.valueOf(written.get()));
      assertThat(query(replica, name, "SELECT count(*) FROM apply_log WHERE op <> 'INSERT'"))
          .as("no row applied twice")
          .isEqualTo("0");
    }
  }
}
