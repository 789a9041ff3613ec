package io.replicador.testing;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.util.Locale;
import java.util.UUID;

/**
 * Clusters and broker shared by the integration tests of one JVM: a primary cluster and a replica
 * cluster, started once and stopped at exit. Tests make their own databases, exchanges and queues,
 * named after themselves with a random suffix, so reruns never see old state.
 */
public final class TestEnvironment {
  private static PgCluster primary;
  private static PgCluster replicas;

  private TestEnvironment() {}

  public static synchronized PgCluster primaryCluster() {
    if (primary == null) {
      primary = PgCluster.start("primary");
      Runtime.getRuntime().addShutdownHook(new Thread(primary::close));
    }
    return primary;
  }

  public static synchronized PgCluster replicaCluster() {
    if (replicas == null) {
      replicas = PgCluster.start("replicas");
      Runtime.getRuntime().addShutdownHook(new Thread(replicas::close));
    }
    return replicas;
  }

  /** The RabbitMQ the tests use: REPLICADOR_TEST_AMQP, or the local default. */
  public static String amqpUri() {
    return System.getenv().getOrDefault("REPLICADOR_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/");
  }

  /** A name unique to this run: lower-case, safe as database, queue and exchange name. */
  public static String uniqueName(String base) {
    return (base + "_" + UUID.randomUUID().toString().substring(0, 8))
        .toLowerCase(Locale.ROOT)
        .replaceAll("[^a-z0-9_]", "_");
  }

  /** Deletes a test's exchange and replica queues. */
  public static void deleteBrokerObjects(String exchange, String... replicaNames) {
    try {
      ConnectionFactory f = io.replicador.broker.BrokerAddress.parse(amqpUri()).factory();
      try (Connection c = f.newConnection();
          Channel ch = c.createChannel()) {
        for (String name : replicaNames) {
          ch.queueDelete("replicador." + name);
          ch.queueDelete("replicador." + name + ".dead");
        }
        ch.exchangeDelete(exchange);
      }
    } catch (Exception e) {
      // cleanup is best effort; names are unique anyway
    }
  }
}
