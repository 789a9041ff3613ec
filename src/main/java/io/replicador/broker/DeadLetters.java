package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * A replica's dead-letter queue, which the listener publishes to itself (a stream cannot
 * dead-letter, and a queue's own dead-lettering would not say why): the message as it came, with
 * the reason in a header, persistent, confirmed before the listener moves past it. Uses a channel
 * of its own in confirm mode; not thread-safe.
 */
final class DeadLetters {
  private final Channel channel;
  private final String queue;

  DeadLetters(Channel channel, String queue) throws IOException {
    this.channel = channel;
    this.queue = queue;
    channel.confirmSelect();
  }

  <T> void publish(ChangeSubscription.Delivery<T> delivery, String reason)
      throws IOException, InterruptedException, TimeoutException {
    Map<String, Object> headers = new HashMap<>(delivery.headers());
    headers.put(QueueSubscription.REASON_HEADER, reason);
    AMQP.BasicProperties dead =
        new AMQP.BasicProperties.Builder()
            .messageId(delivery.messageId())
            .contentType(delivery.contentType())
            .headers(headers)
            .deliveryMode(2)
            .build();
    try {
      channel.basicPublish("", queue, dead, delivery.body());
      channel.waitForConfirmsOrDie(Duration.ofSeconds(30).toMillis());
    } catch (ShutdownSignalException e) {
      throw new IOException(describe(e), e);
    }
  }

  /** The queue, for log lines. */
  String name() {
    return "queue '" + queue + "'";
  }

  /** What closed the channel, as the broker said it, for an IOException's message. */
  static String describe(ShutdownSignalException e) {
    String d = BrokerFailures.describe(e);
    return d != null ? d : String.valueOf(e.getMessage());
  }
}
