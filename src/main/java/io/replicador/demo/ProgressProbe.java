package io.replicador.demo;

import io.replicador.apply.ReplicaListener;
import io.replicador.store.PrimaryStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Measures the demo's pipeline: transactions captured on the primary, shipped to the broker and
 * applied on each replica, and each replica's lag (how much older its newest row is than the
 * primary's, rows being stamped with their commit-time clock). Owns the connections it is given;
 * used from one thread.
 */
final class ProgressProbe implements AutoCloseable {
  /** One replica's state at a sample; lag is null before its first row arrived. */
  record ReplicaState(String name, long applied, Duration lag) {}

  /** The pipeline at one moment; counts are transactions. */
  record Sample(
      Duration elapsed, long written, long captured, long shipped, List<ReplicaState> replicas) {
    boolean caughtUp() {
      return captured == shipped && replicas.stream().allMatch(r -> r.applied() == shipped);
    }
  }

  /** A replica to watch: its database and its listener. */
  record Replica(String name, Connection connection, ReplicaListener listener) {}

  private final Connection primary;
  private final List<Replica> replicas;
  private final LongSupplier written;
  private final boolean walCapture;
  private final long startNanos = System.nanoTime();

  /**
   * @param walCapture whether capture is from the WAL, where a committed transaction is captured
   */
  ProgressProbe(
      Connection primary, List<Replica> replicas, LongSupplier written, boolean walCapture) {
    this.primary = primary;
    this.replicas = List.copyOf(replicas);
    this.written = written;
    this.walCapture = walCapture;
  }

  /**
   * Reads downstream before upstream (replicas, then the primary, then the writer), so that a
   * sample never shows a stage ahead of the one before it.
   */
  Sample sample() throws SQLException {
    List<Long> applied = new ArrayList<>();
    List<Long> replicaNewest = new ArrayList<>();
    for (Replica r : replicas) {
      applied.add(
          r.listener().positions().values().stream().mapToLong(Long::longValue).max().orElse(0));
      replicaNewest.add(DemoWriter.newestStamp(r.connection()));
    }
    PrimaryStore.Progress progress = new PrimaryStore(primary, "the demo's primary").progress();
    long shipped = progress.shipped();
    long primaryNewest = DemoWriter.newestStamp(primary);
    long written = this.written.getAsLong();
    long captured = walCapture ? Math.max(written, shipped) : progress.captured();
    List<ReplicaState> states = new ArrayList<>();
    for (int i = 0; i < replicas.size(); i++) {
      // no row on the replica yet: no lag to speak of until the first one arrives
      Duration lag =
          replicaNewest.get(i) == 0 && primaryNewest != 0
              ? null
              : Duration.ofNanos(Math.max(0, primaryNewest - replicaNewest.get(i)) * 1000);
      states.add(new ReplicaState(replicas.get(i).name(), Math.min(applied.get(i), shipped), lag));
    }
    return new Sample(
        Duration.ofNanos(System.nanoTime() - startNanos),
        Math.max(written, captured),
        captured,
        shipped,
        states);
  }

  @Override
  public void close() {
    closeQuietly(primary);
    for (Replica r : replicas) {
      closeQuietly(r.connection());
    }
  }

  private static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException e) {
      // closing a demo's monitoring connection: nothing to do about it
    }
  }
}
