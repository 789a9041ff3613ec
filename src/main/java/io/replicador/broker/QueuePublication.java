package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import java.io.IOException;
import java.time.Duration;
import java.util.Date;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes change messages to the durable exchange, from which each replica's queue takes them:
 * one confirm-mode channel on a connection of its own, every message persistent and mandatory (a
 * message no queue takes comes back, see {@link #returned}). Logs when the broker blocks publishing
 * (a memory or disk alarm) and when it resumes.
 */
public final class QueuePublication implements ChangePublication {
  private static final Logger log = LoggerFactory.getLogger(QueuePublication.class);

  private final Connection connection;
  private final Channel channel;
  private final String exchange;
  private final Confirms confirms = new Confirms();

  private QueuePublication(Connection connection, Channel channel, String exchange) {
    this.connection = connection;
    this.channel = channel;
    this.exchange = exchange;
  }

  /** Connects, declares the exchange and turns confirms on. */
  public static QueuePublication open(BrokerAddress broker, String exchange, String connectionName)
      throws IOException, TimeoutException {
    return open(broker, exchange, connectionName, null);
  }

  /**
   * Connects, declares the exchange (and, unless {@code stream} is null, the exchange's stream with
   * that retention, see {@link StreamTopology#declare}) and turns confirms on.
   */
  public static QueuePublication open(
      BrokerAddress broker, String exchange, String connectionName, StreamRetention stream)
      throws IOException, TimeoutException {
    Connection connection = broker.connect(connectionName);
    try {
      // A broker short of memory or disk blocks publishing until its alarm clears: say so, or
      // the publisher just stands still
      connection.addBlockedListener(
          reason ->
              log.warn(
                  "Broker {} blocks publishing ({}); changes wait in the changelog until it"
                      + " resumes",
                  broker,
                  reason),
          () -> log.info("Broker {} accepts publishing again", broker));
      Channel channel = connection.createChannel();
      Topology.declareExchange(channel, exchange);
      if (stream != null) {
        String name = StreamTopology.declare(channel, exchange, stream);
        log.info("Publishing to stream '{}' ({}) through exchange '{}'", name, stream, exchange);
      }
      channel.confirmSelect();
      QueuePublication p = new QueuePublication(connection, channel, exchange);
      channel.addConfirmListener(p.confirms);
      channel.addReturnListener(r -> p.confirms.markReturned());
      channel.addShutdownListener(p.confirms::lost);
      return p;
    } catch (IOException | TimeoutException | RuntimeException e) {
      connection.abort();
      throw e;
    }
  }

  @Override
  public long publish(Outgoing message) throws IOException {
    AMQP.BasicProperties props =
        new AMQP.BasicProperties.Builder()
            .deliveryMode(2)
            .contentType(message.contentType())
            .type("replicador.changes")
            .messageId(message.messageId())
            .timestamp(new Date())
            .headers(message.headers())
            .build();
    long sequence = channel.getNextPublishSeqNo();
    confirms.published(sequence);
    channel.basicPublish(exchange, Topology.ROUTING_KEY, true, props, message.body());
    return sequence;
  }

  @Override
  public boolean confirmed(long sequence) throws IOException {
    return confirms.confirmed(sequence);
  }

  @Override
  public boolean awaitConfirmed(long sequence, Duration timeout)
      throws IOException, InterruptedException {
    return confirms.await(sequence, timeout);
  }

  @Override
  public boolean returned() {
    return confirms.returned();
  }

  @Override
  public void clearReturned() {
    confirms.clearReturned();
  }

  @Override
  public void close() throws IOException {
    if (connection.isOpen()) {
      connection.close();
    }
  }
}
