package io.replicador.bench;

import io.replicador.testing.PgCluster;
import java.util.Map;

/** PostgreSQL clusters for benchmarks, with the durable settings production would have. */
final class DurableClusters {
  private static final Map<String, String> DURABLE =
      Map.of(
          "fsync", "on",
          "synchronous_commit", "on",
          "full_page_writes", "on",
          "shared_buffers", "256MB",
          "max_wal_size", "4GB",
          "max_connections", "200");

  private DurableClusters() {}

  /** A new cluster of its own (fsync and synchronous_commit on); the caller closes it. */
  static PgCluster start(String name) {
    return PgCluster.start(name, DURABLE);
  }
}
