package io.replicador.broker;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;

/**
 * Where the publisher sends change messages: the transport's publishing side. Messages are
 * persistent and confirmed by the broker; each publish returns a sequence number, and {@link
 * #confirmed} tells when every message up to one has been confirmed. A message no queue took is
 * reported by {@link #returned}. One publisher thread at a time; the confirms arrive on the
 * client's own thread. Closing it closes its connection.
 */
public interface ChangePublication extends AutoCloseable {
  /** A message to publish: its id, content type, headers and body. */
  record Outgoing(String messageId, String contentType, Map<String, Object> headers, byte[] body) {}

  /** Publishes without waiting for the confirm; returns the message's sequence number. */
  long publish(Outgoing message) throws IOException;

  /** Whether every message up to and including {@code sequence} is confirmed. */
  boolean confirmed(long sequence) throws IOException;

  /** Waits until every message up to {@code sequence} is confirmed; false if it timed out. */
  boolean awaitConfirmed(long sequence, Duration timeout) throws IOException, InterruptedException;

  /** Whether a message came back because no queue was bound to take it. */
  boolean returned();

  void clearReturned();

  @Override
  void close() throws IOException;
}
