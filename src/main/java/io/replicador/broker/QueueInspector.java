package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeoutException;

/**
 * Looks at and declares replica queues on one broker connection: whether a queue exists, how many
 * messages wait in it and how many consumers it has. A passive declare of a missing queue closes
 * its channel, so every look uses a fresh channel. Owns its connection; not thread-safe.
 */
public final class QueueInspector implements AutoCloseable {
  private final Connection connection;

  public QueueInspector(BrokerAddress broker, String connectionName)
      throws IOException, TimeoutException {
    this.connection = broker.connect(connectionName);
  }

  /** Messages ready in a queue and its consumers. */
  public record QueueCounts(long messages, int consumers) {}

  /** The queue's counts, or empty when it does not exist. */
  public Optional<QueueCounts> inspect(String queue) throws IOException, TimeoutException {
    Channel channel = connection.createChannel();
    try {
      AMQP.Queue.DeclareOk ok = channel.queueDeclarePassive(queue);
      return Optional.of(new QueueCounts(ok.getMessageCount(), ok.getConsumerCount()));
    } catch (IOException e) {
      if (isNotFound(e)) {
        return Optional.empty();
      }
      throw e;
    } finally {
      if (channel.isOpen()) {
        channel.close();
      }
    }
  }

  /**
   * Declares the replica's queue as the listener would (see {@link Topology#declareReplicaQueue})
   * and says whether it was created just now.
   */
  public boolean declareReplicaQueue(String exchange, String replicaName, QueueType type)
      throws IOException, TimeoutException {
    boolean existed = inspect(Topology.queueName(replicaName)).isPresent();
    try (Channel channel = connection.createChannel()) {
      Topology.declareReplicaQueue(channel, exchange, replicaName, type);
    }
    return !existed;
  }

  /**
   * Makes sure the exchange's stream exists (see {@link StreamTopology#ensure}) and the replica's
   * dead-letter queue too; returns the stream's name.
   */
  public String ensureStream(String exchange, String replicaName, StreamRetention retention)
      throws IOException, TimeoutException {
    try (Channel channel = connection.createChannel()) {
      String stream = StreamTopology.ensure(channel, exchange, retention);
      StreamTopology.declareDeadLetterQueue(channel, replicaName);
      return stream;
    }
  }

  /**
   * Binds the replica name to {@code database} ({@link ReplicaRegistry}): when {@code move},
   * whatever it was bound to; else only if free or already its own, refusing otherwise.
   */
  public void bindReplica(String replicaName, String database, boolean move)
      throws IOException, TimeoutException, InterruptedException {
    try (Channel channel = connection.createChannel()) {
      if (move) {
        ReplicaRegistry.rebind(channel, replicaName, database);
      } else {
        ReplicaRegistry.claim(channel, replicaName, database);
      }
    }
  }

  /** Deletes a queue with whatever waits in it; a queue that is not there is fine. */
  public void deleteQueue(String queue) throws IOException, TimeoutException {
    try (Channel channel = connection.createChannel()) {
      channel.queueDelete(queue);
    }
  }

  /** Puts the replica on the exchange's list of replicas ({@link ReplicaRegistry}). */
  public void registerReplica(String exchange, String replicaName)
      throws IOException, TimeoutException, InterruptedException {
    try (Channel channel = connection.createChannel()) {
      ReplicaRegistry.register(channel, exchange, replicaName);
    }
  }

  /** The replicas the exchange feeds, as their listeners and snapshots registered them. */
  public List<String> replicaNames(String exchange) throws IOException, TimeoutException {
    try (Channel channel = connection.createChannel()) {
      return ReplicaRegistry.names(channel, exchange);
    }
  }

  /** Removes a replica: its queues, its database binding, and its place on the exchange's list. */
  public void removeReplica(String exchange, String replicaName)
      throws IOException, TimeoutException {
    try (Channel channel = connection.createChannel()) {
      channel.queueDelete(Topology.queueName(replicaName));
      channel.queueDelete(Topology.deadLetterQueueName(replicaName));
      channel.queueDelete(ReplicaRegistry.ownerQueue(replicaName));
      ReplicaRegistry.unregister(channel, exchange, replicaName);
    }
  }

  /**
   * The offset of the stream's last message, or empty when it holds none (or nothing came within
   * {@code wait}); see {@link StreamEnd}.
   */
  public java.util.OptionalLong streamEnd(String stream, java.time.Duration wait)
      throws IOException, InterruptedException {
    return StreamEnd.find(connection, stream, wait);
  }

  /** What the broker says it is, e.g. "RabbitMQ 3.10.8". */
  public String product() {
    Object product = connection.getServerProperties().get("product");
    Object version = connection.getServerProperties().get("version");
    return product + (version == null ? "" : " " + version);
  }

  /** Deletes queues and an exchange (whatever is left of them). */
  public void delete(String exchange, String... queues) throws IOException, TimeoutException {
    try (Channel channel = connection.createChannel()) {
      for (String q : queues) {
        channel.queueDelete(q);
      }
      channel.exchangeDelete(exchange);
    }
  }

  /** Removes every message waiting in the queue (those delivered and unacknowledged stay). */
  public void purge(String queue) throws IOException, TimeoutException {
    try (Channel channel = connection.createChannel()) {
      channel.queuePurge(queue);
    }
  }

  static boolean isNotFound(IOException e) {
    return e.getCause() instanceof com.rabbitmq.client.ShutdownSignalException s
        && s.getReason() instanceof AMQP.Channel.Close close
        && close.getReplyCode() == AMQP.NOT_FOUND;
  }

  @Override
  public void close() throws IOException {
    if (connection.isOpen()) {
      connection.close();
    }
  }
}
