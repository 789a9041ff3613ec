package io.replicador.bench;

import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.broker.ReplicaRegistry;
import io.replicador.broker.StreamRetention;
import io.replicador.broker.StreamTopology;
import io.replicador.broker.Topology;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import io.replicador.testing.PgCluster;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Replicador between one primary database and some replica databases, in this JVM: a listener per
 * replica, then the publisher, each on a daemon thread of its own. {@link #close} stops them and
 * deletes the broker objects they made (exchange, queues or stream), so that a benchmark's later
 * rounds do not pay for them. Not thread-safe; the caller closes it.
 */
final class Pipeline implements AutoCloseable {
  private final String amqpUri;
  private final String exchange;
  private final QueueType transport;
  private final List<String> replicaNames = new ArrayList<>();
  private final List<AutoCloseable> services = new ArrayList<>();

  private Pipeline(String amqpUri, String exchange, QueueType transport) {
    this.amqpUri = amqpUri;
    this.exchange = exchange;
    this.transport = transport;
  }

  /**
   * Why the broker at {@code amqpUri} cannot carry the stream transport (it is not RabbitMQ, so it
   * has no streams), or empty when it can.
   */
  static Optional<String> streamsUnavailable(String amqpUri) throws Exception {
    try (Connection c = BrokerAddress.parse(amqpUri).factory().newConnection();
        Channel ch = c.createChannel()) {
      StreamTopology.requireStreams(ch);
      return Optional.empty();
    } catch (ConfigException e) {
      return Optional.of(e.getMessage());
    }
  }

  /**
   * Starts the listeners, waits until the broker has what they consume, then starts the publisher.
   *
   * @param amqpUri the broker
   * @param replicaNames one name per replica database, in the same order; names must be new to the
   *     broker (a name belongs to the database it was first used with)
   */
  static Pipeline start(
      String amqpUri,
      PgCluster primary,
      String primaryDb,
      PgCluster replicas,
      List<String> replicaDbs,
      List<String> replicaNames,
      String exchange,
      QueueType transport)
      throws Exception {
    Pipeline p = new Pipeline(amqpUri, exchange, transport);
    BrokerAddress broker = BrokerAddress.parse(amqpUri);
    try {
      for (int i = 0; i < replicaDbs.size(); i++) {
        String name = replicaNames.get(i);
        p.replicaNames.add(name);
        p.run(
            new ReplicaListener(
                new ListenerSettings(
                    PostgresAddress.parse("replica", replicas.uri(replicaDbs.get(i))),
                    broker,
                    exchange,
                    name,
                    transport,
                    Set.of(),
                    ListenerSettings.DEFAULT_PREFETCH)));
      }
      // listeners first: what they consume must exist before the publisher ships
      p.awaitBrokerObjects();
      PublisherSettings publishing =
          PublisherSettings.defaults(
              PostgresAddress.parse("primary", primary.uri(primaryDb)), broker, exchange);
      // the stream as `publish --queue-type stream` declares it by default: kept without limit
      p.run(
          new ChangePublisher(
              transport.isStream() ? publishing.withStream(StreamRetention.NONE) : publishing));
      return p;
    } catch (Exception e) {
      p.close();
      throw e;
    }
  }

  private <T extends Runnable & AutoCloseable> void run(T service) {
    Thread t = new Thread(service, "bench-" + service.getClass().getSimpleName());
    t.setDaemon(true);
    t.start();
    services.add(service);
  }

  private List<String> consumed() {
    if (transport.isStream()) {
      return List.of(StreamTopology.streamName(exchange));
    }
    return replicaNames.stream().map(Topology::queueName).toList();
  }

  private void awaitBrokerObjects() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    try (Connection c = BrokerAddress.parse(amqpUri).factory().newConnection()) {
      for (String q : consumed()) {
        while (true) {
          try (Channel ch = c.createChannel()) {
            ch.queueDeclarePassive(q);
            break;
          } catch (IOException e) {
            if (System.nanoTime() > deadline) {
              throw new IllegalStateException(
                  String.format(Locale.ROOT, "%s never appeared on the broker", q), e);
            }
            TimeUnit.MILLISECONDS.sleep(100);
          }
        }
      }
    }
  }

  @Override
  public void close() throws Exception {
    for (AutoCloseable s : services) {
      s.close();
    }
    try (Connection c = BrokerAddress.parse(amqpUri).factory().newConnection()) {
      List<String> queues = new ArrayList<>();
      for (String name : replicaNames) {
        queues.add(Topology.queueName(name));
        queues.add(Topology.deadLetterQueueName(name));
        queues.add(ReplicaRegistry.ownerQueue(name));
      }
      queues.add(ReplicaRegistry.listQueue(exchange));
      queues.add(StreamTopology.streamName(exchange));
      for (String q : queues) {
        // a channel each: RabbitMQ deletes a missing queue quietly, other brokers close the
        // channel (404), and not every object exists with either transport
        try (Channel ch = c.createChannel()) {
          ch.queueDelete(q);
        } catch (IOException | AlreadyClosedException missing) {
          // not there
        }
      }
      try (Channel ch = c.createChannel()) {
        ch.exchangeDelete(exchange);
      }
    }
  }
}
