package io.replicador.broker;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * Where a listener receives change messages: the transport's consuming side, for one replica.
 * Deliveries come in order, each decoded on the client's thread by the decoder given when it was
 * opened; at most the prefetch are unacknowledged at once, and an unacknowledged delivery comes
 * again after the subscription is lost. One consuming thread; closing it closes its connection.
 *
 * @param <T> what a delivery's body is decoded into
 */
public interface ChangeSubscription<T> extends AutoCloseable {
  /**
   * A delivery: its tag (increasing), message id, content type and headers (kept for
   * dead-lettering), body, what it decoded into, and its offset in the stream ({@code
   * x-stream-offset}), or -1 when it came from a queue.
   */
  record Delivery<T>(
      long tag,
      String messageId,
      String contentType,
      Map<String, Object> headers,
      byte[] body,
      T decoded,
      long offset) {}

  /** What is consumed, for log lines. */
  String name();

  /**
   * The next delivery, or null after {@code timeout}.
   *
   * @throws IOException when the broker closed the subscription
   */
  Delivery<T> poll(Duration timeout) throws IOException, InterruptedException;

  /** Acknowledges every delivery up to and including {@code tag}. */
  void acknowledge(long tag) throws IOException;

  /**
   * Keeps the delivery in the replica's dead-letter queue with {@code reason}, once the broker
   * confirmed it; the delivery itself is acknowledged with the ones around it.
   */
  void deadLetter(Delivery<T> delivery, String reason)
      throws IOException, InterruptedException, TimeoutException;

  /** The dead-letter queue's name, for log lines. */
  String deadLetterName();

  @Override
  void close() throws IOException;
}
