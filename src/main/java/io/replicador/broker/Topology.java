package io.replicador.broker;

import com.rabbitmq.client.Channel;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Names and declares the broker objects: one durable topic exchange per change stream, and per
 * replica a durable queue bound to it plus a dead-letter queue. Declarations are idempotent.
 *
 * <p>Quorum queues and single active consumer are RabbitMQ extensions. On another AMQP 0-9-1 broker
 * (such as the embedded one of the demo and of tests on a bare machine) the queues are plain
 * durable queues, and {@link ReplicaQueue#singleActiveConsumer} is false: the listener then
 * consumes exclusively, so a second listener is refused until the first stops.
 */
public final class Topology {
  private static final Logger log = LoggerFactory.getLogger(Topology.class);

  /** Every change message is published with this routing key. */
  public static final String ROUTING_KEY = "changes";

  private Topology() {}

  /**
   * A declared replica queue.
   *
   * @param singleActiveConsumer whether the broker lets only one consumer receive at a time (a
   *     second one waits); false on brokers without that RabbitMQ extension
   */
  public record ReplicaQueue(String name, boolean singleActiveConsumer) {}

  public static String queueName(String replicaName) {
    return "replicador." + replicaName;
  }

  public static String deadLetterQueueName(String replicaName) {
    return queueName(replicaName) + ".dead";
  }

  public static void declareExchange(Channel channel, String exchange) throws IOException {
    channel.exchangeDeclare(exchange, "topic", true);
  }

  /** Whether the broker behind this channel says it is RabbitMQ (and so has its extensions). */
  public static boolean isRabbitMq(Channel channel) {
    Object product = channel.getConnection().getServerProperties().get("product");
    return product != null && product.toString().contains("RabbitMQ");
  }

  /**
   * Declares the replica's queue (single active consumer, so a second listener waits as a hot
   * standby) and its dead-letter queue, and binds the queue to the exchange.
   */
  public static ReplicaQueue declareReplicaQueue(
      Channel channel, String exchange, String replicaName, QueueType type) throws IOException {
    declareExchange(channel, exchange);
    String queue = queueName(replicaName);
    boolean rabbit = isRabbitMq(channel);
    Map<String, Object> args = new HashMap<>();
    Map<String, Object> deadArgs = new HashMap<>();
    if (rabbit) {
      args.put("x-queue-type", type.argument());
      args.put("x-single-active-consumer", true);
      deadArgs.put("x-queue-type", type.argument());
    } else {
      // other brokers refuse unknown x- arguments by closing the connection
      log.info(
          "The broker is not RabbitMQ ({}): queue '{}' is a plain durable queue, not {}, and"
              + " listeners consume it exclusively instead of as single active consumer",
          channel.getConnection().getServerProperties().get("product"),
          queue,
          type.argument());
    }
    channel.queueDeclare(queue, true, false, false, args);
    channel.queueBind(queue, exchange, "#");
    channel.queueDeclare(deadLetterQueueName(replicaName), true, false, false, deadArgs);
    return new ReplicaQueue(queue, rabbit);
  }
}
