package io.replicador.broker;

import com.rabbitmq.client.Channel;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * Names and declares the broker objects: one durable topic exchange per change stream, and per
 * replica a durable queue bound to it plus a dead-letter queue. Declarations are idempotent.
 */
public final class Topology {
  /** Every change message is published with this routing key. */
  public static final String ROUTING_KEY = "changes";

  private Topology() {}

  public static String queueName(String replicaName) {
    return "replicador." + replicaName;
  }

  public static String deadLetterQueueName(String replicaName) {
    return queueName(replicaName) + ".dead";
  }

  public static void declareExchange(Channel channel, String exchange) throws IOException {
    channel.exchangeDeclare(exchange, "topic", true);
  }

  /**
   * Declares the replica's queue (single active consumer, so a second listener waits as a hot
   * standby) and its dead-letter queue, and binds the queue to the exchange.
   */
  public static void declareReplicaQueue(
      Channel channel, String exchange, String replicaName, QueueType type) throws IOException {
    declareExchange(channel, exchange);
    Map<String, Object> args = new HashMap<>();
    args.put("x-queue-type", type.argument());
    args.put("x-single-active-consumer", true);
    String queue = queueName(replicaName);
    channel.queueDeclare(queue, true, false, false, args);
    channel.queueBind(queue, exchange, "#");
    Map<String, Object> deadArgs = new HashMap<>();
    deadArgs.put("x-queue-type", type.argument());
    channel.queueDeclare(deadLetterQueueName(replicaName), true, false, false, deadArgs);
  }
}
