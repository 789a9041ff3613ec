package io.replicador.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.function.Supplier;

/**
 * The snapshot's meters, read when scraped from its per-table progress, each tagged {@code replica}
 * (docs/monitoring.md lists them). Thread-safe.
 */
public final class SnapshotMetrics {
  /**
   * One table's copy as the snapshot reports it; {@code state} is waiting, copying, done or
   * skipped.
   */
  public record Table(String table, String state, long rows, long bytes) {}

  private static final List<String> STATES = List.of("waiting", "copying", "done", "skipped");

  /**
   * @param tables every table's progress now (empty before the copy began); called when scraped
   */
  public SnapshotMetrics(MeterRegistry registry, String replica, Supplier<List<Table>> tables) {
    FunctionCounter.builder(
            "replicador.snapshot.rows.copied",
            tables,
            t -> t.get().stream().mapToLong(Table::rows).sum())
        .tag("replica", replica)
        .description("Rows copied to the replica so far")
        .register(registry);
    FunctionCounter.builder(
            "replicador.snapshot.copied",
            tables,
            t -> t.get().stream().mapToLong(Table::bytes).sum())
        .tag("replica", replica)
        .baseUnit("bytes")
        .description("Bytes of COPY data copied to the replica so far")
        .register(registry);
    for (String state : STATES) {
      Gauge.builder(
              "replicador.snapshot.tables",
              tables,
              t -> t.get().stream().filter(x -> x.state().equals(state)).count())
          .tags("replica", replica, "state", state)
          .description("Tables of the snapshot by the state of their copy")
          .register(registry);
    }
  }
}
