package io.replicador.testing;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.broker.Topology;
import io.replicador.embedded.EmbeddedBroker;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Locale;
import java.util.UUID;

/**
 * Clusters and broker shared by the integration tests of one JVM: a primary cluster and a replica
 * cluster, started once and stopped at exit. Tests make their own databases, exchanges and queues,
 * named after themselves with a random suffix, so reruns never see old state.
 *
 * <p>The broker is REPLICADOR_TEST_AMQP when set (an AMQP URI, or {@code embedded}), else the
 * RabbitMQ on 127.0.0.1:5672 when it answers, else an embedded AMQP broker started once per JVM.
 * Tests of RabbitMQ-only features carry {@link RequiresRabbitMq}.
 */
public final class TestEnvironment {
  private static final String LOCAL_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/";
  private static PgCluster primary;
  private static PgCluster replicas;
  private static String amqpUri;
  private static Boolean rabbitMq;

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

  /** The broker the tests use (see the class comment); starts the embedded one if need be. */
  public static synchronized String amqpUri() {
    if (amqpUri == null) {
      String env = System.getenv("REPLICADOR_TEST_AMQP");
      if (env != null && !env.isBlank() && !"embedded".equalsIgnoreCase(env.strip())) {
        amqpUri = env.strip();
      } else if (env == null && answers("127.0.0.1", 5672)) {
        amqpUri = LOCAL_RABBITMQ;
      } else {
        EmbeddedBroker broker = EmbeddedBroker.start();
        Runtime.getRuntime().addShutdownHook(new Thread(broker::close));
        amqpUri = broker.uri();
      }
    }
    return amqpUri;
  }

  /** Whether the test broker is RabbitMQ (it says so when a client connects). */
  public static synchronized boolean brokerIsRabbitMq() {
    if (rabbitMq == null) {
      try (Connection c =
              BrokerAddress.parse(amqpUri()).factory().newConnection("replicador-test");
          Channel ch = c.createChannel()) {
        rabbitMq = Topology.isRabbitMq(ch);
      } catch (Exception e) {
        throw new IllegalStateException("Cannot reach the test broker " + amqpUri(), e);
      }
    }
    return rabbitMq;
  }

  private static boolean answers(String host, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** A name unique to this run: lower-case, safe as database, queue and exchange name. */
  public static String uniqueName(String base) {
    return (base + "_" + UUID.randomUUID().toString().substring(0, 8))
        .toLowerCase(Locale.ROOT)
        .replaceAll("[^a-z0-9_]", "_");
  }

  /**
   * Declares a replica's queue (and the exchange) as its listener will, so that changes published
   * before the listener thread gets going are not lost to a queue that does not exist yet.
   */
  public static void declareReplicaQueue(String exchange, String replicaName, QueueType type) {
    try (Connection c = BrokerAddress.parse(amqpUri()).factory().newConnection("replicador-test");
        Channel ch = c.createChannel()) {
      Topology.declareReplicaQueue(ch, exchange, replicaName, type);
    } catch (Exception e) {
      throw new IllegalStateException("Cannot declare the queue of replica " + replicaName, e);
    }
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
          ch.queueDelete("replicador:owner:" + name);
        }
        ch.queueDelete("replicador:replicas:" + exchange);
        ch.queueDelete("replicador:stream:" + exchange);
        ch.exchangeDelete(exchange);
      }
    } catch (Exception e) {
      // cleanup is best effort; names are unique anyway
    }
  }
}
