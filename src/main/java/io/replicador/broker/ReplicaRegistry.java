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
 * What the broker knows of the replicas, in durable queues that nothing consumes (their messages
 * are read and put back): which database each replica name belongs to ({@code
 * replicador:owner:NAME}, one message), so that a second database started under the same name is
 * refused instead of taking the first one's changes; and which replicas an exchange feeds ({@code
 * replicador:replicas:EXCHANGE}, one message per name), which AMQP cannot list otherwise. The ':'
 * cannot occur in a replica name, so these never clash with a replica's queues. Stateless; uses the
 * caller's channel.
 */
public final class ReplicaRegistry {
  private ReplicaRegistry() {}

  public static String ownerQueue(String replicaName) {
    return "replicador:owner:" + replicaName;
  }

  public static String listQueue(String exchange) {
    return "replicador:replicas:" + exchange;
  }

  /** Adds the replica to the exchange's list, unless it is there. */
  public static void register(Channel channel, String exchange, String replicaName)
      throws IOException, TimeoutException, InterruptedException {
    if (!names(channel, exchange).contains(replicaName)) {
      record(channel, declare(channel, listQueue(exchange)), replicaName);
    }
  }

  /** The replicas on the exchange's list, in the order they joined. */
  public static java.util.List<String> names(Channel channel, String exchange) throws IOException {
    String queue = declare(channel, listQueue(exchange));
    java.util.LinkedHashSet<String> names = new java.util.LinkedHashSet<>();
    long last = -1;
    GetResponse r;
    while ((r = channel.basicGet(queue, false)) != null) {
      names.add(new String(r.getBody(), StandardCharsets.UTF_8));
      last = r.getEnvelope().getDeliveryTag();
    }
    if (last >= 0) {
      channel.basicNack(last, true, true); // all of them stay
    }
    return java.util.List.copyOf(names);
  }

  /** Takes the replica off the exchange's list. */
  public static void unregister(Channel channel, String exchange, String replicaName)
      throws IOException {
    String queue = declare(channel, listQueue(exchange));
    GetResponse r;
    java.util.List<Long> keep = new java.util.ArrayList<>();
    while ((r = channel.basicGet(queue, false)) != null) {
      long tag = r.getEnvelope().getDeliveryTag();
      if (new String(r.getBody(), StandardCharsets.UTF_8).equals(replicaName)) {
        channel.basicAck(tag, false);
      } else {
        keep.add(tag);
      }
    }
    for (long tag : keep) {
      channel.basicNack(tag, false, true);
    }
  }

  /**
   * Binds the name to {@code database} (its system identifier and name) if it is free, or checks
   * that it is bound to it; refuses a name bound to another database.
   */
  public static void claim(Channel channel, String replicaName, String database)
      throws IOException, TimeoutException, InterruptedException {
    String queue = declare(channel, ownerQueue(replicaName));
    GetResponse bound = channel.basicGet(queue, false);
    if (bound == null) {
      record(channel, queue, database);
      return;
    }
    String owner = new String(bound.getBody(), StandardCharsets.UTF_8);
    channel.basicNack(bound.getEnvelope().getDeliveryTag(), false, true); // it stays
    if (!owner.equals(database)) {
      throw new ConfigException(
          "Replica name "
              + replicaName
              + " belongs to database "
              + owner
              + ", not to this one ("
              + database
              + "); give this replica a --name of its own, or snapshot it under this"
              + " name to move the name here (the other database then stops receiving changes)");
    }
  }

  /** Binds the name to {@code database}, whatever it was bound to (a snapshot starting over). */
  public static void rebind(Channel channel, String replicaName, String database)
      throws IOException, TimeoutException, InterruptedException {
    String queue = declare(channel, ownerQueue(replicaName));
    channel.queuePurge(queue);
    record(channel, queue, database);
  }

  /**
   * Declares a registry queue: a quorum queue on RabbitMQ, so that it outlives the loss of a node
   * of a cluster (a classic queue lives on one node). One made by an earlier version as a classic
   * queue is used as it is: redeclaring it as another type would be refused.
   */
  private static String declare(Channel channel, String queue) throws IOException {
    if (!Topology.isRabbitMq(channel)) {
      channel.queueDeclare(queue, true, false, false, Map.of());
      return queue;
    }
    if (!StreamTopology.exists(channel, queue)) {
      channel.queueDeclare(queue, true, false, false, Map.of("x-queue-type", "quorum"));
    }
    return queue;
  }

  private static void record(Channel channel, String queue, String text)
      throws IOException, TimeoutException, InterruptedException {
    channel.confirmSelect();
    channel.basicPublish(
        "",
        queue,
        new AMQP.BasicProperties.Builder().deliveryMode(2).build(),
        text.getBytes(StandardCharsets.UTF_8));
    channel.waitForConfirmsOrDie(Duration.ofSeconds(30).toMillis());
  }
}
