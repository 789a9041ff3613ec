package io.replicador.apply;

import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.broker.StreamRetention;
import io.replicador.change.TableName;
import io.replicador.codec.MessageSignature;
import io.replicador.config.PostgresAddress;
import java.util.Set;

/**
 * Everything a listener needs, validated.
 *
 * @param name the replica's name; its queue is {@code replicador.NAME} (with {@link
 *     QueueType#STREAM}, it reads the exchange's stream instead)
 * @param tables the tables to apply; empty for all
 * @param prefetch unacknowledged messages the broker may send ahead; also the most messages one
 *     replica transaction applies, since none is acknowledged before that transaction commits
 * @param allowReplicaTriggers apply even where, without session_replication_role, the replica's
 *     foreign-key actions or triggers would change rows the primary kept (see ReplicaSafety)
 * @param signatures checks every message's signature: one without a valid one is dead-lettered,
 *     never applied; null to apply unsigned messages
 * @param streamRetention with {@link QueueType#STREAM}: the retention the stream is made with when
 *     the listener finds none (one that exists is used as it is)
 */
public record ListenerSettings(
    PostgresAddress replica,
    BrokerAddress broker,
    String exchange,
    String name,
    QueueType queueType,
    Set<TableName> tables,
    int prefetch,
    boolean allowReplicaTriggers,
    MessageSignature signatures,
    StreamRetention streamRetention) {
  /**
   * Enough to apply bulk loads in large replica transactions, few enough that the messages held (up
   * to 1 MiB each, decoded) stay well within a 256 MB heap.
   */
  public static final int DEFAULT_PREFETCH = 64;

  public ListenerSettings {
    tables = Set.copyOf(tables);
    streamRetention = streamRetention == null ? StreamRetention.NONE : streamRetention;
  }

  public ListenerSettings(
      PostgresAddress replica,
      BrokerAddress broker,
      String exchange,
      String name,
      QueueType queueType,
      Set<TableName> tables,
      int prefetch,
      boolean allowReplicaTriggers,
      MessageSignature signatures) {
    this(
        replica,
        broker,
        exchange,
        name,
        queueType,
        tables,
        prefetch,
        allowReplicaTriggers,
        signatures,
        StreamRetention.NONE);
  }

  /** Settings that apply unsigned messages. */
  public ListenerSettings(
      PostgresAddress replica,
      BrokerAddress broker,
      String exchange,
      String name,
      QueueType queueType,
      Set<TableName> tables,
      int prefetch,
      boolean allowReplicaTriggers) {
    this(replica, broker, exchange, name, queueType, tables, prefetch, allowReplicaTriggers, null);
  }

  public ListenerSettings(
      PostgresAddress replica,
      BrokerAddress broker,
      String exchange,
      String name,
      QueueType queueType,
      Set<TableName> tables,
      int prefetch) {
    this(replica, broker, exchange, name, queueType, tables, prefetch, false);
  }
}
