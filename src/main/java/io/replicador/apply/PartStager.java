package io.replicador.apply;

import io.replicador.change.SourceTransaction;
import io.replicador.store.ReplicaStore;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Stages parts of large transactions ({@link ReplicaStore#stage}) through a connection of its own,
 * on a thread of its own while the applier applies, and commits them on request: a staged part,
 * once committed, is one the broker may forget. Also answers where the replica's WAL stands. Owns
 * its thread, not its connection; one caller at a time.
 */
final class PartStager implements AutoCloseable {
  private final Connection connection;
  private final String replicaName;
  private final List<Future<?>> pending = new ArrayList<>();
  private ExecutorService thread;
  private final ReplicaStore store;

  PartStager(Connection connection, String replicaName) {
    this.connection = connection;
    this.replicaName = replicaName;
    this.store = new ReplicaStore(connection, replicaName);
  }

  void prepare() throws SQLException {
    connection.setAutoCommit(false);
    try (Statement st = connection.createStatement()) {
      // as for the applier's commits: the listener acknowledges once the WAL is flushed
      st.execute("SET synchronous_commit = off");
    }
    connection.commit();
  }

  /** Stages the part in the background; {@link #commit} waits for it. */
  void stage(String source, SourceTransaction tx, byte[] body) {
    if (thread == null) {
      thread =
          Executors.newSingleThreadExecutor(
              r -> {
                Thread t = new Thread(r, "replicador-stage-" + replicaName);
                t.setDaemon(true);
                return t;
              });
    }
    pending.add(
        thread.submit(
            () -> {
              store.stage(source, tx.position(), tx.part(), body);
              return null;
            }));
  }

  /**
   * Commits the parts staged; when {@code durable}, waits for the disk, which also makes every
   * earlier commit durable (a commit that waits flushes the WAL up to itself, and only a
   * transaction with an id writes one).
   */
  void commit(boolean durable) throws SQLException {
    awaitStaged();
    if (durable) {
      try (Statement st = connection.createStatement()) {
        st.execute("SET LOCAL synchronous_commit = on");
        st.execute("SELECT pg_current_xact_id()");
      }
    }
    connection.commit();
  }

  /** Rolls back what was staged since the last commit, once the staging thread is done with it. */
  void rollback() throws SQLException {
    try {
      awaitStaged();
    } finally {
      connection.rollback();
    }
  }

  /**
   * The replica's WAL positions: {@code [0]} at or after the end of the last commit, {@code [1]} up
   * to which everything is on disk.
   */
  long[] wal() throws SQLException {
    try (Statement st = connection.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT (pg_current_wal_insert_lsn() - '0/0')::int8,"
                    + " (pg_current_wal_flush_lsn() - '0/0')::int8")) {
      rs.next();
      return new long[] {rs.getLong(1), rs.getLong(2)};
    } finally {
      connection.commit();
    }
  }

  /** Waits for every part handed to the staging thread; the first failure, after all are done. */
  private void awaitStaged() throws SQLException {
    Throwable failure = null;
    try {
      for (Future<?> f : pending) {
        try {
          f.get();
        } catch (ExecutionException e) {
          failure = failure == null ? e.getCause() : failure;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          // the thread may still be using the connection: it cannot be used from here
          throw new SQLException("Interrupted while staging parts", "08006", e);
        }
      }
    } finally {
      pending.clear();
    }
    if (failure instanceof SQLException e) {
      throw e;
    }
    if (failure instanceof RuntimeException e) {
      throw e;
    }
    if (failure != null) {
      throw new IllegalStateException(failure);
    }
  }

  @Override
  public void close() {
    if (thread != null) {
      thread.shutdownNow();
    }
  }
}
