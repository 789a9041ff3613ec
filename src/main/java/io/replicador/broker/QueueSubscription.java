package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A replica's own durable queue ({@code replicador.NAME}, bound to the exchange), consumed with
 * manual acknowledgements and bounded prefetch: as single active consumer where the broker has it
 * (RabbitMQ), else as exclusive consumer, so a second listener of the same name waits (or is
 * refused and retries) while the first one runs. Poisoned messages go to {@code
 * replicador.NAME.dead} through a channel of their own.
 */
public final class QueueSubscription<T> implements ChangeSubscription<T> {
  /** The header that says why a message was dead-lettered. */
  public static final String REASON_HEADER = "x-replicador-reason";

  private final Connection connection;
  private final Channel channel;
  private final DeadLetters deadLetters;
  private final String queue;
  private final boolean singleActiveConsumer;
  private final BlockingQueue<Delivery<T>> deliveries = new LinkedBlockingQueue<>();

  private QueueSubscription(
      Connection connection,
      Channel channel,
      DeadLetters deadLetters,
      String queue,
      boolean singleActiveConsumer) {
    this.connection = connection;
    this.channel = channel;
    this.deadLetters = deadLetters;
    this.queue = queue;
    this.singleActiveConsumer = singleActiveConsumer;
  }

  /** Turns a delivery's message id, content type, headers and body into what the listener uses. */
  @FunctionalInterface
  public interface Decoder<T> {
    T decode(String messageId, String contentType, Map<String, Object> headers, byte[] body);
  }

  /**
   * Connects, declares the replica's queue (bound to the exchange) and starts consuming.
   *
   * @param database the replica database (see {@link ReplicaRegistry}): a name bound to another one
   *     is refused
   * @param decode turns a body into what the listener works with; runs on the client's thread
   */
  public static <T> QueueSubscription<T> open(
      BrokerAddress broker,
      String exchange,
      String replicaName,
      String database,
      QueueType type,
      int prefetch,
      Decoder<T> decode)
      throws IOException, TimeoutException, InterruptedException {
    Connection connection = broker.connect("replicador-listen-" + replicaName);
    try {
      try (Channel registry = connection.createChannel()) {
        ReplicaRegistry.claim(registry, replicaName, database);
        ReplicaRegistry.register(registry, exchange, replicaName);
      }
      Channel channel = connection.createChannel();
      DeadLetters deadLetters =
          new DeadLetters(connection.createChannel(), Topology.deadLetterQueueName(replicaName));
      Topology.ReplicaQueue declared =
          Topology.declareReplicaQueue(channel, exchange, replicaName, type);
      channel.basicQos(prefetch);
      QueueSubscription<T> s =
          new QueueSubscription<>(
              connection, channel, deadLetters, declared.name(), declared.singleActiveConsumer());
      // Without single active consumer (not RabbitMQ) an exclusive consumer keeps the order: a
      // second listener is refused and retries until the first one is gone.
      channel.basicConsume(
          declared.name(),
          false,
          "replicador-listen-" + replicaName,
          false,
          !declared.singleActiveConsumer(),
          null,
          new DefaultConsumer(channel) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
              // decoded here, on the client's dispatch thread, while the listener applies
              Map<String, Object> headers =
                  props.getHeaders() == null ? Map.of() : props.getHeaders();
              s.deliveries.add(
                  new Delivery<>(
                      envelope.getDeliveryTag(),
                      props.getMessageId(),
                      props.getContentType(),
                      headers,
                      body,
                      decode.decode(props.getMessageId(), props.getContentType(), headers, body),
                      -1));
            }
          });
      return s;
    } catch (IOException | TimeoutException | InterruptedException | RuntimeException e) {
      connection.abort();
      throw e;
    }
  }

  /** Whether a second listener waits as single active consumer (else it is refused). */
  public boolean singleActiveConsumer() {
    return singleActiveConsumer;
  }

  @Override
  public String name() {
    return "queue '" + queue + "'";
  }

  @Override
  public Delivery<T> poll(Duration timeout) throws IOException, InterruptedException {
    Delivery<T> d = deliveries.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (d == null) {
      if (!channel.isOpen()) {
        ShutdownSignalException reason = channel.getCloseReason();
        throw new IOException(
            reason == null ? "the channel closed" : DeadLetters.describe(reason), reason);
      }
      return null;
    }
    return d;
  }

  @Override
  public void acknowledge(long tag) throws IOException {
    try {
      channel.basicAck(tag, true);
    } catch (ShutdownSignalException e) {
      throw new IOException(DeadLetters.describe(e), e);
    }
  }

  @Override
  public void deadLetter(Delivery<T> delivery, String reason)
      throws IOException, InterruptedException, TimeoutException {
    deadLetters.publish(delivery, reason);
  }

  @Override
  public String deadLetterName() {
    return deadLetters.name();
  }

  @Override
  public void close() throws IOException {
    if (connection.isOpen()) {
      connection.close();
    }
  }
}
