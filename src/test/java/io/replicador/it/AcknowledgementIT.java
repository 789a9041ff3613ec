package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.Topology;
import io.replicador.cli.Main;
import io.replicador.testing.PgCluster;
import io.replicador.testing.TestEnvironment;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The listener acknowledges a message once the replica's WAL holding its commit is flushed. On a
 * replica whose WAL writer is slow to flush, what it applied must still be acknowledged, not left
 * to come again.
 */
class AcknowledgementIT {
  private static PgCluster lazyReplica;

  @BeforeAll
  static void startReplica() {
    lazyReplica = PgCluster.start("lazy-wal-writer", Map.of("wal_writer_delay", "10s"));
  }

  @AfterAll
  static void stopReplica() {
    lazyReplica.close();
  }

  @Test
  void aStoppingListenerAcknowledgesWhatItApplied() throws Exception {
    try (ReplicationFixture fx = new ReplicationFixture("stop_acks", lazyReplica)) {
      String ddl = "CREATE TABLE events (id int PRIMARY KEY, body text)";
      exec(fx.primaryCluster, fx.primaryDb, ddl);
      String replicaDb = fx.replicaDb("r1");
      exec(fx.replicaCluster, replicaDb, ddl);
      assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", "events")).isZero();
      ReplicaListener listener = fx.startListener("r1", Set.of());
      fx.startPublisher();
      for (int i = 1; i <= 10; i++) {
        exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO events VALUES (" + i + ", 'e')");
      }
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(20))
          .until(
              () ->
                  query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM events").equals("10"));
      listener.close();
      try (Connection c = BrokerAddress.parse(TestEnvironment.amqpUri()).factory().newConnection();
          Channel ch = c.createChannel()) {
        assertThat(
                ch.queueDeclarePassive(Topology.queueName(fx.replicaName("r1"))).getMessageCount())
            .as("messages left in the queue after the listener stopped")
            .isZero();
      }
    }
  }
}
