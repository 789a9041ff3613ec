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
import java.util.OptionalLong;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A replica reading the exchange's stream ({@link StreamTopology}) from its own position: it
 * consumes with {@code x-stream-offset} from the offset after the last one the replica processed
 * (kept on the replica, not in the broker), with bounded prefetch (which streams require) and
 * manual acknowledgements, which only give the broker credit: the offset saved on the replica is
 * what counts. Deliveries before that offset (RabbitMQ starts at the start of the chunk holding it)
 * are acknowledged and dropped. Poisoned messages go to {@code replicador.NAME.dead}, published by
 * this side since a stream cannot dead-letter. A stream has no single active consumer over AMQP
 * 0-9-1: the listener keeps one reader per replica with a lock on the replica itself.
 *
 * <p>One consuming thread (that of {@link #poll}); closing it closes its connection.
 */
public final class StreamSubscription<T> implements ChangeSubscription<T> {
  private static final Logger log = LoggerFactory.getLogger(StreamSubscription.class);

  /** How long the start waits for the stream's last chunk when looking for its end. */
  private static final Duration END_WAIT = Duration.ofSeconds(5);

  private final Connection connection;
  private final Channel channel;
  private final DeadLetters deadLetters;
  private final String stream;
  private final StreamResume resume;
  private final OptionalLong end;
  private final BlockingQueue<Delivery<T>> deliveries = new LinkedBlockingQueue<>();

  private StreamSubscription(
      Connection connection,
      Channel channel,
      DeadLetters deadLetters,
      String stream,
      StreamResume resume,
      OptionalLong end) {
    this.connection = connection;
    this.channel = channel;
    this.deadLetters = deadLetters;
    this.stream = stream;
    this.resume = resume;
    this.end = end;
  }

  /**
   * Connects, makes sure the stream exists (declared with {@code retention} when missing) and the
   * replica's dead-letter queue too, and starts consuming at {@code resume}.
   *
   * @param database the replica database (see {@link ReplicaRegistry}): a name bound to another one
   *     is refused
   */
  public static <T> StreamSubscription<T> open(
      BrokerAddress broker,
      String exchange,
      String replicaName,
      String database,
      StreamRetention retention,
      int prefetch,
      StreamResume resume,
      QueueSubscription.Decoder<T> decode)
      throws IOException, TimeoutException, InterruptedException {
    Connection connection = broker.connect("replicador-listen-" + replicaName);
    try {
      try (Channel registry = connection.createChannel()) {
        // on a channel of its own: it reads the registry's queues with basic.get
        ReplicaRegistry.claim(registry, replicaName, database);
        ReplicaRegistry.register(registry, exchange, replicaName);
      }
      Channel channel = connection.createChannel();
      String stream = StreamTopology.ensure(channel, exchange, retention);
      String deadQueue = StreamTopology.declareDeadLetterQueue(channel, replicaName);
      String oldQueue = Topology.queueName(replicaName);
      if (StreamTopology.exists(channel, oldQueue)) {
        log.warn(
            "Replica {} reads stream '{}', but its queue '{}' from --queue-type quorum or classic"
                + " is still bound to exchange '{}' and fills up with every change; delete it"
                + " (rabbitmqctl delete_queue '{}')",
            replicaName,
            stream,
            oldQueue,
            exchange,
            oldQueue);
      }
      OptionalLong end =
          resume.saved() >= 0
              ? StreamEnd.find(connection, stream, END_WAIT, resume.saved())
              : OptionalLong.empty();
      DeadLetters deadLetters = new DeadLetters(connection.createChannel(), deadQueue);
      channel.basicQos(prefetch); // streams refuse a consumer without a prefetch limit
      StreamSubscription<T> s =
          new StreamSubscription<>(connection, channel, deadLetters, stream, resume, end);
      channel.basicConsume(
          stream,
          false,
          "replicador-listen-" + replicaName,
          false,
          false,
          Map.of(StreamEnd.OFFSET_HEADER, resume.startArgument()),
          new DefaultConsumer(channel) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
              Map<String, Object> headers =
                  props.getHeaders() == null ? Map.of() : props.getHeaders();
              long offset = StreamEnd.offset(headers);
              // decoded here, on the client's dispatch thread, while the listener applies;
              // what the replica has already is not decoded at all
              T decoded =
                  resume.alreadyProcessed(offset)
                      ? null
                      : decode.decode(props.getMessageId(), props.getContentType(), headers, body);
              s.deliveries.add(
                  new Delivery<>(
                      envelope.getDeliveryTag(),
                      props.getMessageId(),
                      props.getContentType(),
                      headers,
                      body,
                      decoded,
                      offset));
            }
          });
      return s;
    } catch (IOException | TimeoutException | InterruptedException | RuntimeException e) {
      connection.abort();
      throw e;
    }
  }

  /** Where this subscription started. */
  public StreamResume resume() {
    return resume;
  }

  /**
   * The stream's last offset when the subscription started, or the first offset seen at or past the
   * saved one (all the check for a recreated stream needs); looked up only when resuming from a
   * saved offset; empty otherwise or when the stream was empty.
   */
  public OptionalLong endAtStart() {
    return end;
  }

  /** The stream's name. */
  public String stream() {
    return stream;
  }

  @Override
  public String name() {
    return "stream '" + stream + "' " + resume;
  }

  @Override
  public Delivery<T> poll(Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = Math.max(0, deadline - System.nanoTime());
      Delivery<T> d = deliveries.poll(left, TimeUnit.NANOSECONDS);
      if (d == null) {
        if (!channel.isOpen()) {
          ShutdownSignalException reason = channel.getCloseReason();
          throw new IOException(
              reason == null ? "the channel closed" : DeadLetters.describe(reason), reason);
        }
        return null;
      }
      if (!resume.alreadyProcessed(d.offset())) {
        return d;
      }
      acknowledge(d.tag()); // credit for the next ones; the replica has this one
    }
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
