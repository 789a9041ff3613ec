package io.replicador.publish;

import io.replicador.broker.ChangePublication;
import io.replicador.codec.MessageSignature;
import java.io.IOException;
import java.time.Duration;

/**
 * Signs every message on its way to another publication (see {@link MessageSignature}), whatever
 * source produced it: every message the publisher ships passes here. Thread-safety and closing as
 * the publication it wraps, which it closes.
 */
final class SignedPublication implements ChangePublication {
  private final ChangePublication next;
  private final MessageSignature signing;

  private SignedPublication(ChangePublication next, MessageSignature signing) {
    this.next = next;
    this.signing = signing;
  }

  /** {@code publication} itself when {@code signing} is null, else one that signs. */
  static ChangePublication wrap(ChangePublication publication, MessageSignature signing) {
    return signing == null ? publication : new SignedPublication(publication, signing);
  }

  @Override
  public long publish(Outgoing message) throws IOException {
    return next.publish(
        new Outgoing(
            message.messageId(),
            message.contentType(),
            signing.sign(
                message.messageId(), message.contentType(), message.headers(), message.body()),
            message.body()));
  }

  @Override
  public boolean confirmed(long sequence) throws IOException {
    return next.confirmed(sequence);
  }

  @Override
  public boolean awaitConfirmed(long sequence, Duration timeout)
      throws IOException, InterruptedException {
    return next.awaitConfirmed(sequence, timeout);
  }

  @Override
  public boolean returned() {
    return next.returned();
  }

  @Override
  public void clearReturned() {
    next.clearReturned();
  }

  @Override
  public void close() throws IOException {
    next.close();
  }
}
