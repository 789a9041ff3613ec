package io.replicador.it;

import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.change.TableName;
import io.replicador.config.PostgresAddress;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import io.replicador.testing.PgCluster;
import io.replicador.testing.TestEnvironment;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * One test's primary database, replica databases and exchange, with in-process publishers and
 * listeners that it stops on close.
 */
final class ReplicationFixture implements AutoCloseable {
  final PgCluster primaryCluster = TestEnvironment.primaryCluster();
  final PgCluster replicaCluster = TestEnvironment.replicaCluster();
  final String name;
  final String primaryDb;
  final String exchange;
  private final List<AutoCloseable> running = new ArrayList<>();
  private final List<String> replicaNames = new ArrayList<>();

  ReplicationFixture(String testName) {
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
    ChangePublisher p =
        new ChangePublisher(
            PublisherSettings.defaults(
                PostgresAddress.parse("primary", primaryUri()),
                BrokerAddress.parse(TestEnvironment.amqpUri()),
                exchange));
    start(p, "publisher");
    return p;
  }

  ReplicaListener startListener(String replica, Set<TableName> tables) {
    ReplicaListener l =
        new ReplicaListener(
            new ListenerSettings(
                PostgresAddress.parse("replica", replicaCluster.uri(replica + "_" + name)),
                BrokerAddress.parse(TestEnvironment.amqpUri()),
                exchange,
                replicaName(replica),
                QueueType.QUORUM,
                tables,
                200,
                100));
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

  @Override
  public void close() throws Exception {
    for (AutoCloseable c : running) {
      c.close();
    }
    TestEnvironment.deleteBrokerObjects(exchange, replicaNames.toArray(String[]::new));
  }
}
