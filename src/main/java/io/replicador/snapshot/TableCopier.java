package io.replicador.snapshot;

import io.replicador.change.Identifiers;
import io.replicador.schema.SessionSettings;
import io.replicador.schema.TableDefinition;
import io.replicador.store.ReplicaStore;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.stream.Collectors;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;
import org.postgresql.copy.PGCopyOutputStream;
import org.postgresql.core.BaseConnection;

/**
 * Copies one table from the primary's snapshot into the replica with COPY, streaming through a
 * small buffer (memory does not grow with the table). On the replica the table is emptied, filled
 * and marked done ({@link ReplicaStore#recordCopy}) in one transaction, so an interrupted copy
 * leaves nothing behind and a rerun starts that table clean. Uses the caller's connections; not
 * thread-safe.
 */
final class TableCopier {
  private static final int BUFFER_BYTES = 1 << 16;

  private final Connection primary;
  private final Connection replica;
  private final String consumer;
  private final Snapshotter.Copy copy;
  private final Clock clock;

  /**
   * @param primary in a transaction that imported the snapshot (null to empty tables only)
   * @param replica autocommit off, prepared by {@link SessionSettings}
   */
  TableCopier(
      Connection primary, Connection replica, String consumer, Snapshotter.Copy copy, Clock clock) {
    this.primary = primary;
    this.replica = replica;
    this.consumer = consumer;
    this.copy = copy;
    this.clock = clock;
  }

  /** Copies the table unless an earlier run did; reports into {@code progress}. */
  void copy(TableDefinition table, TableProgress progress) throws SQLException, IOException {
    if (alreadyCopied(table)) {
      progress.finish(TableProgress.State.SKIPPED, clock.instant());
      return;
    }
    progress.start(clock.instant());
    empty(table);
    String columns =
        table.copiedColumns().stream()
            .map(c -> Identifiers.quote(c.name()))
            .collect(Collectors.joining(", "));
    String copyOut =
        table.partitioned()
            ? "COPY (SELECT " + columns + " FROM " + table.name().quoted() + ") TO STDOUT"
            : "COPY " + table.name().quoted() + " (" + columns + ") TO STDOUT";
    String copyIn = "COPY " + table.name().quoted() + " (" + columns + ") FROM STDIN";
    PGCopyOutputStream into =
        new PGCopyOutputStream(replica.unwrap(PGConnection.class), copyIn, BUFFER_BYTES);
    long rows;
    try {
      new CopyManager(primary.unwrap(BaseConnection.class))
          .copyOut(copyOut, new Counting(into, progress));
      rows = into.endCopy();
    } catch (SQLException | IOException | RuntimeException e) {
      if (into.isActive()) {
        try {
          into.cancelCopy();
        } catch (SQLException ignored) {
          e.addSuppressed(ignored);
        }
      }
      replica.rollback();
      throw e;
    }
    new ReplicaStore(replica, consumer)
        .recordCopy(table.name(), rows, copy.source(), copy.primarySnapshot());
    replica.commit();
    progress.finish(TableProgress.State.DONE, clock.instant());
  }

  /** Empties the table, committed, unless an earlier run copied it. */
  void emptyUnlessCopied(TableDefinition table) throws SQLException {
    if (!alreadyCopied(table)) {
      empty(table);
      replica.commit();
    }
  }

  private boolean alreadyCopied(TableDefinition table) throws SQLException {
    boolean done = new ReplicaStore(replica, consumer).copiedTables().contains(table.name());
    replica.commit();
    return done;
  }

  /**
   * Empties the replica table inside the copy's transaction. TRUNCATE is fast but refused for a
   * table other tables' foreign keys point to; those are emptied with DELETE.
   */
  private void empty(TableDefinition table) throws SQLException {
    String name = table.name().quoted();
    try (Statement st = replica.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT EXISTS (SELECT 1 FROM " + name + ")")) {
        rs.next();
        if (!rs.getBoolean(1)) {
          return;
        }
      }
      boolean referenced;
      try (PreparedStatement ps =
          replica.prepareStatement(
              "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f'"
                  + " AND confrelid = ?::regclass AND conrelid <> confrelid)")) {
        ps.setString(1, name);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          referenced = rs.getBoolean(1);
        }
      }
      st.execute((referenced ? "DELETE FROM " : "TRUNCATE ") + name);
    }
  }

  /** Counts rows (newlines: COPY text escapes those inside values) and bytes as they pass. */
  private static final class Counting extends FilterOutputStream {
    private final TableProgress progress;

    Counting(OutputStream out, TableProgress progress) {
      super(out);
      this.progress = progress;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      long newlines = 0;
      for (int i = off; i < off + len; i++) {
        if (b[i] == '\n') {
          newlines++;
        }
      }
      progress.add(newlines, len);
    }

    @Override
    public void close() {
      // the copy's end is decided by the copier, not by CopyManager closing the stream
    }
  }
}
