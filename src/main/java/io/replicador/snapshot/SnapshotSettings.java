package io.replicador.snapshot;

import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.broker.StreamRetention;
import io.replicador.change.TableName;
import io.replicador.config.PostgresAddress;
import java.util.List;

/**
 * Everything a snapshot needs, validated.
 *
 * @param exchange and {@code queueType}: as the replica's listener will use them
 * @param name the replica's name (its queue is {@code replicador.NAME})
 * @param tables the tables to copy; empty for every table captured on the primary
 * @param jobs tables copied in parallel at most (and tables indexed in parallel)
 * @param foreignKeys whether the tables the snapshot creates get the primary's foreign keys too
 * @param streamRetention with {@link QueueType#STREAM}: the retention of the stream when the
 *     snapshot has to make it (one that exists is used as it is)
 */
public record SnapshotSettings(
    PostgresAddress primary,
    PostgresAddress replica,
    BrokerAddress broker,
    String exchange,
    String name,
    QueueType queueType,
    List<TableName> tables,
    int jobs,
    boolean foreignKeys,
    StreamRetention streamRetention) {

  public SnapshotSettings {
    tables = List.copyOf(tables);
    streamRetention = streamRetention == null ? StreamRetention.NONE : streamRetention;
    if (jobs < 1) {
      throw new IllegalArgumentException("jobs must be at least 1");
    }
  }
}
