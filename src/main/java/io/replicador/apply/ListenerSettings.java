package io.replicador.apply;

import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.change.TableName;
import io.replicador.config.PostgresAddress;
import java.util.Set;

/**
 * Everything a listener needs, validated.
 *
 * @param name the replica's name; its queue is {@code replicador.NAME}
 * @param tables the tables to apply; empty for all
 * @param prefetch unacknowledged messages the broker may send ahead
 * @param batchMessages messages applied in one replica transaction at most
 */
public record ListenerSettings(
    PostgresAddress replica,
    BrokerAddress broker,
    String exchange,
    String name,
    QueueType queueType,
    Set<TableName> tables,
    int prefetch,
    int batchMessages) {

  public ListenerSettings {
    tables = Set.copyOf(tables);
  }
}
