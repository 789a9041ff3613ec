package io.replicador.publish;

import io.replicador.broker.ChangePublication;
import io.replicador.change.ChangeMessage;
import io.replicador.codec.ChangeMessageCodec;
import io.replicador.metrics.PublisherMetrics;
import java.io.IOException;
import java.time.Clock;
import java.util.Map;

/**
 * Encodes change messages and publishes them, without waiting for confirms: every source's messages
 * leave through here, with the same id and headers. One thread.
 */
final class MessageSender {
  /**
   * When the publisher published a message, in milliseconds since 1970: the listener measures its
   * lag from it (the AMQP timestamp property has whole seconds only).
   */
  static final String PUBLISHED_AT_HEADER = "replicador-published-at";

  private final ChangePublication publication;
  private final String source;
  private final Clock clock;
  private final ChangeMessageCodec codec = new ChangeMessageCodec();
  private PublisherMetrics metrics = PublisherMetrics.none();
  private long lastSequence = -1;

  MessageSender(ChangePublication publication, String source, Clock clock) {
    this.publication = publication;
    this.source = source;
    this.clock = clock;
  }

  /** Sets where the bytes published are counted; returns this. */
  MessageSender measuredBy(PublisherMetrics metrics) {
    this.metrics = metrics;
    return this;
  }

  void send(ChangeMessage message) throws IOException {
    long first = message.transactions().get(0).position();
    byte[] body = codec.encode(message);
    lastSequence =
        publication.publish(
            new ChangePublication.Outgoing(
                source + ":" + first + ":" + message.transactions().get(0).part(),
                ChangeMessageCodec.contentType(message),
                Map.of(
                    "replicador-source",
                    source,
                    "replicador-position",
                    first,
                    PUBLISHED_AT_HEADER,
                    clock.millis()),
                body));
    metrics.published(body.length);
  }

  /** The publication's sequence number of the last message sent; -1 before the first. */
  long lastSequence() {
    return lastSequence;
  }
}
