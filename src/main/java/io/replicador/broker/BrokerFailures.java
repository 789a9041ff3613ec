package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ShutdownSignalException;

/** How the AMQP client's failures read in one line; the rest is {@code Failures}' job. */
public final class BrokerFailures {
  private BrokerFailures() {}

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
