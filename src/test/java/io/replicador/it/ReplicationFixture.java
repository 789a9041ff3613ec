package io.replicador.it;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.change.TableName;
import io.replicador.codec.MessageSignature;
import io.replicador.config.PostgresAddress;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import io.replicador.testing.PgCluster;
import io.replicador.testing.TestEnvironment;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One test's primary database, replica databases and exchange, with in-process publishers and
 * listeners that it stops on close.
 */
final class ReplicationFixture implements AutoCloseable {
  final PgCluster primaryCluster = TestEnvironment.primaryCluster();
  final PgCluster replicaCluster;
  final String name;
  final String primaryDb;
  final String exchange;
  private final List<AutoCloseable> running = new ArrayList<>();
  private final List<String> replicaNames = new ArrayList<>();

  ReplicationFixture(String testName) {
    this(testName, TestEnvironment.replicaCluster());
  }

  ReplicationFixture(String testName, PgCluster replicaCluster) {
    this.replicaCluster = replicaCluster;
    this.name = TestEnvironment.uniqueName(testName);
    this.primaryDb = primaryCluster.createDatabase(name);
    this.exchange = "replicador-test." + name;
  }

  String primaryUri() {
    return primaryCluster.uri(primaryDb);
  }

  /** Creates a replica database named after this test; returns its name. */
  String replicaDb(String replica) {
    replicaNames.add(replica + "_" + name);
    return replicaCluster.createDatabase(replica + "_" + name);
  }

  String replicaName(String replica) {
    return replica + "_" + name;
  }

  ChangePublisher startPublisher() {
    return startPublisher(defaultPublisherSettings());
  }

  /**
   * A publisher that connects to the primary with {@code primaryUri} (another role) and signs every
   * message with {@code signing} (null: unsigned).
   */
  ChangePublisher startPublisher(String primaryUri, MessageSignature signing) {
    return startPublisher(
        PublisherSettings.defaults(
                PostgresAddress.parse("primary", primaryUri),
                BrokerAddress.parse(TestEnvironment.amqpUri()),
                exchange)
            .signedWith(signing));
  }

  /** A publisher that signs every message with {@code signing}. */
  ChangePublisher startPublisher(MessageSignature signing) {
    return startPublisher(defaultPublisherSettings().signedWith(signing));
  }

  /** A publisher that connects to the primary with {@code primaryUri} (another role). */
  ChangePublisher startPublisher(String primaryUri) {
    return startPublisher(primaryUri, null);
  }

  private PublisherSettings defaultPublisherSettings() {
    return PublisherSettings.defaults(
        PostgresAddress.parse("primary", primaryUri()),
        BrokerAddress.parse(TestEnvironment.amqpUri()),
        exchange);
  }

  private ChangePublisher startPublisher(PublisherSettings settings) {
    ChangePublisher p = new ChangePublisher(settings);
    start(p, "publisher");
    return p;
  }

  ReplicaListener startListener(String replica, Set<TableName> tables) {
    return startListener(replica, tables, ListenerSettings.DEFAULT_PREFETCH);
  }

  ReplicaListener startListener(String replica, Set<TableName> tables, int prefetch) {
    return startListener(replica, tables, prefetch, replicaCluster.uri(replica + "_" + name));
  }

  /** A listener that connects to its replica database with {@code replicaUri} (another role). */
  ReplicaListener startListener(
      String replica, Set<TableName> tables, int prefetch, String replicaUri) {
    return startListener(replica, tables, prefetch, replicaUri, false);
  }

  ReplicaListener startListener(
      String replica,
      Set<TableName> tables,
      int prefetch,
      String replicaUri,
      boolean allowReplicaTriggers) {
    return startListener(replica, tables, prefetch, replicaUri, allowReplicaTriggers, null);
  }

  /** A listener that applies only messages with a valid signature by {@code signatures}. */
  ReplicaListener startListener(String replica, MessageSignature signatures) {
    return startListener(
        replica,
        Set.of(),
        ListenerSettings.DEFAULT_PREFETCH,
        replicaCluster.uri(replica + "_" + name),
        false,
        signatures);
  }

  ReplicaListener startListener(
      String replica,
      Set<TableName> tables,
      int prefetch,
      String replicaUri,
      boolean allowReplicaTriggers,
      MessageSignature signatures) {
    ReplicaListener l =
        new ReplicaListener(
            new ListenerSettings(
                PostgresAddress.parse("replica", replicaUri),
                BrokerAddress.parse(TestEnvironment.amqpUri()),
                exchange,
                replicaName(replica),
                QueueType.QUORUM,
                tables,
                prefetch,
                allowReplicaTriggers,
                signatures));
    // The queue exists when this returns, as snapshot would leave it: changes written right
    // after reach it even if the publisher ships before the listener thread has declared it.
    TestEnvironment.declareReplicaQueue(exchange, replicaName(replica), QueueType.QUORUM);
    start(l, "listener-" + replica);
    return l;
  }

  private <T extends Runnable & AutoCloseable> void start(T service, String what) {
    Thread t = new Thread(service, "test-" + what);
    t.setDaemon(true);
    t.start();
    running.add(service);
  }

  /**
   * Every row's text form ({@code ROW(r.*)::text}, which cannot be mistaken for a column named
   * {@code r}), one per line in {@code orderBy} order, under fixed output settings so that two
   * databases with different defaults print equal values alike.
   */
  static String rowsText(PgCluster cluster, String database, String table, String orderBy) {
    try (java.sql.Connection c = cluster.connect(database);
        Statement st = c.createStatement()) {
      st.execute(
          "SET datestyle = 'ISO, YMD'; SET intervalstyle = 'postgres'; SET timezone = 'UTC';"
              + " SET extra_float_digits = 3; SET bytea_output = 'hex'; SET lc_monetary = 'C'");
      try (ResultSet rs =
          st.executeQuery(
              "SELECT count(*) || E'\\n' || coalesce(string_agg(ROW(r.*)::text, E'\\n' ORDER BY "
                  + orderBy
                  + "), '') FROM "
                  + table
                  + " r")) {
        rs.next();
        return rs.getString(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /** Publishes a raw message to this test's exchange, as a foreign producer would. */
  void publishRaw(byte[] body, AMQP.BasicProperties props) throws Exception {
    try (Connection c = amqpFactory().newConnection();
        Channel ch = c.createChannel()) {
      ch.confirmSelect();
      ch.basicPublish(exchange, "changes", props, body);
      ch.waitForConfirmsOrDie(30_000);
    }
  }

  /** Takes one message from a queue (acknowledging it), if there is one. */
  Optional<GetResponse> take(String queue) throws Exception {
    try (Connection c = amqpFactory().newConnection();
        Channel ch = c.createChannel()) {
      return Optional.ofNullable(ch.basicGet(queue, true));
    }
  }

  /**
   * Takes the first message of a replica's queue as a consumer would (quorum queues with single
   * active consumer refuse basic.get), acknowledging it; the others stay queued.
   */
  byte[] takeFirst(String queue) throws Exception {
    try (Connection c = amqpFactory().newConnection();
        Channel ch = c.createChannel()) {
      ch.basicQos(1);
      java.util.concurrent.BlockingQueue<com.rabbitmq.client.Delivery> got =
          new java.util.concurrent.LinkedBlockingQueue<>();
      ch.basicConsume(queue, false, (tag, d) -> got.add(d), tag -> {});
      com.rabbitmq.client.Delivery d = got.poll(30, java.util.concurrent.TimeUnit.SECONDS);
      if (d == null) {
        throw new IllegalStateException("No message came from " + queue + " within 30 s");
      }
      ch.basicAck(d.getEnvelope().getDeliveryTag(), false);
      return d.getBody();
    }
  }

  private static ConnectionFactory amqpFactory() throws Exception {
    return BrokerAddress.parse(TestEnvironment.amqpUri()).factory();
  }

  /** Stops the publishers and listeners started so far; queues and databases stay. */
  void stopServices() throws Exception {
    for (AutoCloseable c : running) {
      c.close();
    }
    running.clear();
  }

  @Override
  public void close() throws Exception {
    stopServices();
    TestEnvironment.deleteBrokerObjects(exchange, replicaNames.toArray(String[]::new));
    dropSlots();
  }

  /**
   * Drops the replication slots of this test's primary database (install --capture wal made them),
   * so that they hold no WAL for the rest of the run; waits briefly for their readers to go.
   */
  private void dropSlots() throws Exception {
    try (java.sql.Connection c = primaryCluster.connect(primaryDb);
        Statement st = c.createStatement()) {
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
      while (true) {
        st.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                + " WHERE database = current_database() AND active_pid IS NULL");
        try (ResultSet rs =
            st.executeQuery(
                "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()")) {
          rs.next();
          if (rs.getInt(1) == 0 || System.nanoTime() > deadline) {
            return;
          }
        }
        Thread.onSpinWait();
      }
    }
  }
}
