package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.GetResponse;
import io.replicador.config.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * Binds a replica name to one replica database, so that a second database started under the same
 * name is refused instead of taking the first one's changes: the binding is one persistent
 * message in the durable queue {@code replicador.NAME.owner}, which nothing consumes (it is read
 * and put back). Stateless; uses the caller's channel.
 */
public final class ReplicaRegistry {
  private ReplicaRegistry() {}

  static String ownerQueue(String replicaName) {
    return Topology.queueName(replicaName) + ".owner";
  }

  /**
   * Binds the name to {@code database} (its system identifier and name) if it is free, or checks
   * that it is bound to it; refuses a name bound to another database.
   */
  public static void claim(Channel channel, String replicaName, String database)
      throws IOException, TimeoutException, InterruptedException {
    String queue = declare(channel, replicaName);
    GetResponse bound = channel.basicGet(queue, false);
    if (bound == null) {
      record(channel, queue, database);
      return;
    }
    String owner = new String(bound.getBody(), StandardCharsets.UTF_8);
    channel.basicNack(bound.getEnvelope().getDeliveryTag(), false, true); // it stays
    if (!owner.equals(database)) {
      throw new ConfigException(
          "Replica name " + replicaName + " belongs to database " + owner + ", not to this one ("
              + database + "); give this replica a --name of its own, or snapshot it under this"
              + " name to move the name here (the other database then stops receiving changes)");
    }
  }

  /** Binds the name to {@code database}, whatever it was bound to (a snapshot starting over). */
  public static void rebind(Channel channel, String replicaName, String database)
      throws IOException, TimeoutException, InterruptedException {
    String queue = declare(channel, replicaName);
    channel.queuePurge(queue);
    record(channel, queue, database);
  }

  private static String declare(Channel channel, String replicaName) throws IOException {
    String queue = ownerQueue(replicaName);
    channel.queueDeclare(queue, true, false, false, Map.of());
    return queue;
  }

  private static void record(Channel channel, String queue, String database)
      throws IOException, TimeoutException, InterruptedException {
    channel.confirmSelect();
    channel.basicPublish(
        "",
        queue,
        new AMQP.BasicProperties.Builder().deliveryMode(2).build(),
        database.getBytes(StandardCharsets.UTF_8));
    channel.waitForConfirmsOrDie(Duration.ofSeconds(30).toMillis());
  }
}
