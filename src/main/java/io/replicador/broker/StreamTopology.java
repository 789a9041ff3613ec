package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ShutdownSignalException;
import io.replicador.config.ConfigException;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * The exchange's one stream, {@code replicador:stream:EXCHANGE} (the ':' cannot occur in a replica
 * name, so it never clashes with a replica's queue), bound to the exchange with '#' so that every
 * message published to the exchange is stored in it once, however many replicas read it. Each
 * replica keeps its dead-letter queue {@code replicador.NAME.dead}, which its listener fills itself
 * (a stream cannot dead-letter). Streams are a RabbitMQ feature: another broker is refused.
 * Stateless; each declaration uses a channel of its own, since a refused one closes it.
 */
public final class StreamTopology {
  private StreamTopology() {}

  public static String streamName(String exchange) {
    return "replicador:stream:" + exchange;
  }

  /**
   * Declares the exchange and its stream with {@code retention}, bound to it, as the publisher does
   * at start.
   *
   * @throws ConfigException when the broker has no streams, or the stream exists with other
   *     settings (naming the difference and the fix)
   */
  public static String declare(Channel channel, String exchange, StreamRetention retention)
      throws IOException, TimeoutException {
    requireStreams(channel);
    Topology.declareExchange(channel, exchange);
    String stream = streamName(exchange);
    Channel own = channel.getConnection().createChannel();
    try {
      own.queueDeclare(stream, true, false, false, retention.arguments());
      own.queueBind(stream, exchange, "#");
    } catch (IOException e) {
      if (precondition(e) != null) {
        throw new ConfigException(
            "Stream '"
                + stream
                + "' exists with other settings than these ("
                + retention
                + "): RabbitMQ says "
                + precondition(e)
                + "; give the same --stream-max-age, --stream-max-bytes and"
                + " --stream-segment-bytes as when it was made, or delete the stream (rabbitmqctl"
                + " delete_queue '"
                + stream
                + "'; every stream replica must then be snapshotted again)",
            e);
      }
      throw e;
    } finally {
      closeQuietly(own);
    }
    return stream;
  }

  /**
   * Makes sure the exchange's stream exists, as listeners and snapshots do: one that exists is used
   * as it is (whatever its retention); a missing one is declared with {@code retention}.
   */
  public static String ensure(Channel channel, String exchange, StreamRetention retention)
      throws IOException, TimeoutException {
    requireStreams(channel);
    String stream = streamName(exchange);
    if (exists(channel, stream)) {
      Topology.declareExchange(channel, exchange);
      channel.queueBind(stream, exchange, "#");
      return stream;
    }
    try {
      return declare(channel, exchange, retention);
    } catch (ConfigException e) {
      // made just now by the publisher with its own settings: use it
      if (exists(channel, stream)) {
        return stream;
      }
      throw e;
    }
  }

  /** Declares the replica's dead-letter queue, a quorum queue. */
  public static String declareDeadLetterQueue(Channel channel, String replicaName)
      throws IOException {
    String dead = Topology.deadLetterQueueName(replicaName);
    channel.queueDeclare(dead, true, false, false, Map.of("x-queue-type", "quorum"));
    return dead;
  }

  /** Refuses, in one line, a broker that is not RabbitMQ (it has no streams). */
  public static void requireStreams(Channel channel) {
    if (!Topology.isRabbitMq(channel)) {
      throw new ConfigException(
          "--queue-type stream needs RabbitMQ, and the broker at this address is "
              + channel.getConnection().getServerProperties().get("product")
              + ", which has no streams; use --queue-type quorum (a queue per replica) with it");
    }
  }

  /**
   * Whether the queue or stream exists; looks on a channel of its own, which a missing one closes.
   */
  static boolean exists(Channel channel, String queue) throws IOException {
    Channel probe = channel.getConnection().createChannel();
    try {
      probe.queueDeclarePassive(queue);
      return true;
    } catch (IOException e) {
      if (QueueInspector.isNotFound(e)) {
        return false;
      }
      throw e;
    } finally {
      closeQuietly(probe);
    }
  }

  /** The broker's reason when it refused a declaration as inequivalent, else null. */
  private static String precondition(IOException e) {
    if (e.getCause() instanceof ShutdownSignalException s
        && s.getReason() instanceof AMQP.Channel.Close close
        && close.getReplyCode() == AMQP.PRECONDITION_FAILED) {
      return close.getReplyText();
    }
    return null;
  }

  private static void closeQuietly(Channel channel) throws IOException {
    if (channel.isOpen()) {
      try {
        channel.close();
      } catch (TimeoutException | ShutdownSignalException e) {
        channel.abort();
      }
    }
  }
}
