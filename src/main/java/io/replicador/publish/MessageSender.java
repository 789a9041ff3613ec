package io.replicador.publish;

import io.replicador.broker.ChangePublication;
import io.replicador.change.ChangeMessage;
import io.replicador.codec.ChangeMessageCodec;
import java.io.IOException;
import java.util.Map;

/**
 * Encodes change messages and publishes them, without waiting for confirms: every source's messages
 * leave through here, with the same id and headers. One thread.
 */
final class MessageSender {
  private final ChangePublication publication;
  private final String source;
  private final ChangeMessageCodec codec = new ChangeMessageCodec();
  private long lastSequence = -1;

  MessageSender(ChangePublication publication, String source) {
    this.publication = publication;
    this.source = source;
  }

  void send(ChangeMessage message) throws IOException {
    long first = message.transactions().get(0).position();
    lastSequence =
        publication.publish(
            new ChangePublication.Outgoing(
                source + ":" + first + ":" + message.transactions().get(0).part(),
                ChangeMessageCodec.contentType(message),
                Map.of("replicador-source", source, "replicador-position", first),
                codec.encode(message)));
  }

  /** The publication's sequence number of the last message sent; -1 before the first. */
  long lastSequence() {
    return lastSequence;
  }
}
