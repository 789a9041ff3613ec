package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Finds the offset of a stream's last message: AMQP 0-9-1 has no call for it, so it consumes from
 * {@code last} (the start of the stream's last chunk) on a channel of its own, acknowledging as it
 * goes so that a chunk larger than the prefetch comes whole, and takes the largest {@code
 * x-stream-offset} delivered until nothing more comes for a moment. Blocks up to about twice the
 * wait given (on a stream written without pause, what came by then).
 */
public final class StreamEnd {
  /** The header that carries a stream message's offset. */
  public static final String OFFSET_HEADER = "x-stream-offset";

  /** How long after the last delivery of the chunk the chunk is taken to be complete. */
  private static final Duration QUIET = Duration.ofMillis(200);

  private StreamEnd() {}

  /** The stream's last offset, or empty when nothing came within {@code wait} (an empty stream). */
  public static OptionalLong find(Connection connection, String stream, Duration wait)
      throws IOException, InterruptedException {
    return find(connection, stream, wait, Long.MAX_VALUE);
  }

  /**
   * As {@link #find(Connection, String, Duration)}, but returns as soon as an offset of at least
   * {@code enough} came: a caller that only asks whether the stream reaches an offset need not wait
   * for the end of a stream that is being written.
   */
  public static OptionalLong find(Connection connection, String stream, Duration wait, long enough)
      throws IOException, InterruptedException {
    Channel channel = connection.createChannel();
    LinkedBlockingQueue<Long> offsets = new LinkedBlockingQueue<>();
    try {
      channel.basicQos(1000);
      channel.basicConsume(
          stream,
          false,
          "",
          false,
          false,
          Map.of(OFFSET_HEADER, "last"),
          new DefaultConsumer(channel) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body)
                throws IOException {
              offsets.add(offset(props.getHeaders()));
              // this channel's only user is this consumer: credit for the rest of the chunk
              getChannel().basicAck(envelope.getDeliveryTag(), false);
            }
          });
      Long first = offsets.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
      if (first == null) {
        return OptionalLong.empty();
      }
      long end = first;
      long deadline = System.nanoTime() + wait.toNanos();
      Long next;
      while (end < enough
          && System.nanoTime() < deadline
          && (next = offsets.poll(QUIET.toMillis(), TimeUnit.MILLISECONDS)) != null) {
        end = Math.max(end, next);
      }
      return OptionalLong.of(end);
    } finally {
      if (channel.isOpen()) {
        try {
          channel.close();
        } catch (TimeoutException e) {
          channel.abort();
        }
      }
    }
  }

  /** A delivery's stream offset, or -1 when it has none. */
  static long offset(Map<String, Object> headers) {
    if (headers != null && headers.get(OFFSET_HEADER) instanceof Number n) {
      return n.longValue();
    }
    return -1;
  }
}
