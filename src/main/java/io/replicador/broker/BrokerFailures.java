package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ShutdownSignalException;

/** How the AMQP client's failures read in one line; the rest is {@code Failures}' job. */
public final class BrokerFailures {
  private BrokerFailures() {}

  /**
   * Whether the broker refused what was configured, which waiting cannot heal: the user or
   * password (ACCESS_REFUSED), or a virtual host the user may not use (NOT_ALLOWED).
   */
  public static boolean isConfigurationError(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof com.rabbitmq.client.AuthenticationFailureException
          || c instanceof com.rabbitmq.client.PossibleAuthenticationFailureException) {
        return true;
      }
      if (c instanceof ShutdownSignalException s
          && s.getReason() instanceof AMQP.Connection.Close close
          && (close.getReplyCode() == AMQP.ACCESS_REFUSED
              || close.getReplyCode() == AMQP.NOT_ALLOWED)) {
        return true;
      }
    }
    return false;
  }

  /** The broker's own reason when {@code t} is the broker closing a channel or connection. */
  public static String describe(Throwable t) {
    if (t instanceof ShutdownSignalException s) {
      Object reason = s.getReason();
      if (reason instanceof AMQP.Channel.Close close) {
        return "RabbitMQ closed the channel: " + close.getReplyText();
      }
      if (reason instanceof AMQP.Connection.Close close) {
        return "RabbitMQ closed the connection: " + close.getReplyText();
      }
    }
    return null;
  }
}
