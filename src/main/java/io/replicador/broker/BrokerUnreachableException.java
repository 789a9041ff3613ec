package io.replicador.broker;

import java.io.IOException;

/**
 * A connection to RabbitMQ could not be opened; the message names the host and port (never the
 * password) and why, and the cause is the client's exception.
 */
public final class BrokerUnreachableException extends IOException {
  private static final long serialVersionUID = 1L;

  BrokerUnreachableException(String message, Throwable cause) {
    super(message, cause);
  }
}
