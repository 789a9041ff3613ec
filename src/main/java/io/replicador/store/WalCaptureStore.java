package io.replicador.store;

import io.replicador.change.Identifiers;
import io.replicador.change.TableName;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.postgresql.replication.LogSequenceNumber;

/**
 * The primary's WAL capture ({@code install --capture wal}): its row in {@code
 * replicador.wal_capture}, the publication of the captured tables and the logical replication slot
 * with the built-in {@code pgoutput} plugin, and how far the publisher has shipped.
 *
 * <p>Statements run in the caller's transaction on the caller's connection, which it does not
 * close; the caller commits. Creating the slot is the exception: PostgreSQL refuses it in a
 * transaction that has written, so {@link #createSlot} needs a connection in autocommit. Not
 * thread-safe.
 */
public final class WalCaptureStore {
  /** The publication's name; publications belong to one database, so one name serves all. */
  public static final String PUBLICATION = "replicador";

  private final Connection connection;

  public WalCaptureStore(Connection connection) {
    this.connection = connection;
  }

  /** The WAL capture of this primary, or empty when it captures with triggers (or not at all). */
  public record WalCapture(String slot, String publication, long shippedLsn, String shippedAt) {}

  public Optional<WalCapture> find() throws SQLException {
    if (!Migrations.exists(connection, "replicador.wal_capture")) {
      return Optional.empty();
    }
    return Statements.first(
        connection,
        "SELECT slot_name, publication_name, shipped_lsn::text, shipped_at::text"
            + " FROM replicador.wal_capture",
        rs ->
            new WalCapture(
                rs.getString(1),
                rs.getString(2),
                LogSequenceNumber.valueOf(rs.getString(3)).asLong(),
                rs.getString(4)));
  }

  /** The slot name for a source: one slot per source, named so an operator can tell whose it is. */
  public static String slotName(String sourceId) {
    return "replicador_" + sourceId.replace("-", "").substring(0, 16);
  }

  /**
   * Records WAL capture, unless recorded already; the caller creates publication and slot.
   *
   * @param from the WAL position from which the slot's transactions are shipped: those that commit
   *     before it were captured otherwise, or before capture began
   */
  public void record(String slot, long from) throws SQLException {
    Statements.update(
        connection,
        "INSERT INTO replicador.wal_capture (slot_name, publication_name, shipped_lsn)"
            + " VALUES (?, ?, ?::pg_lsn) ON CONFLICT DO NOTHING",
        slot,
        PUBLICATION,
        LogSequenceNumber.valueOf(from).asString());
  }

  /** Whether this database has the publication. */
  public boolean publicationExists() throws SQLException {
    return Statements.first(
            connection, "SELECT 1 FROM pg_publication WHERE pubname = ?", rs -> true, PUBLICATION)
        .isPresent();
  }

  /**
   * Creates the publication for the tables, or adds those it lacks. Partitions publish under their
   * partitioned table, as triggers capture them.
   */
  public void publish(List<TableName> tables) throws SQLException {
    if (tables.isEmpty()) {
      return;
    }
    try (Statement st = connection.createStatement()) {
      if (!publicationExists()) {
        st.execute(
            "CREATE PUBLICATION "
                + Identifiers.quote(PUBLICATION)
                + " FOR TABLE "
                + quotedList(tables)
                + " WITH (publish_via_partition_root = true)");
        return;
      }
      List<TableName> present = publishedTables();
      List<TableName> missing = tables.stream().filter(t -> !present.contains(t)).toList();
      if (!missing.isEmpty()) {
        st.execute(
            "ALTER PUBLICATION "
                + Identifiers.quote(PUBLICATION)
                + " ADD TABLE "
                + quotedList(missing));
      }
    }
  }

  /** The tables the publication lists (not the partitions it covers through them). */
  public List<TableName> publishedTables() throws SQLException {
    return Statements.list(
        connection,
        "SELECT n.nspname, c.relname FROM pg_publication_rel pr"
            + " JOIN pg_publication p ON p.oid = pr.prpubid"
            + " JOIN pg_class c ON c.oid = pr.prrelid"
            + " JOIN pg_namespace n ON n.oid = c.relnamespace"
            + " WHERE p.pubname = ? ORDER BY 1, 2",
        rs -> TableName.of(rs.getString(1), rs.getString(2)),
        PUBLICATION);
  }

  private static String quotedList(List<TableName> tables) {
    return tables.stream().map(TableName::quoted).collect(Collectors.joining(", "));
  }

  /** Takes tables out of the publication. */
  public void unpublish(List<TableName> tables) throws SQLException {
    List<TableName> present = publishedTables();
    List<TableName> drop = tables.stream().filter(present::contains).toList();
    if (drop.isEmpty()) {
      return;
    }
    try (Statement st = connection.createStatement()) {
      st.execute(
          "ALTER PUBLICATION "
              + Identifiers.quote(PUBLICATION)
              + " DROP TABLE "
              + quotedList(drop));
    }
  }

  public void dropPublication() throws SQLException {
    try (Statement st = connection.createStatement()) {
      st.execute("DROP PUBLICATION IF EXISTS " + Identifiers.quote(PUBLICATION));
    }
  }

  /**
   * Creates the slot; the connection must be in autocommit (PostgreSQL waits for the transactions
   * running now to end, then the slot sees every transaction that commits after).
   */
  public void createSlot(String slot) throws SQLException {
    Statements.first(
        connection, "SELECT pg_create_logical_replication_slot(?, 'pgoutput')", rs -> true, slot);
  }

  /**
   * Drops the slot unless a server process reads it; returns whether it is gone (true also when
   * there was none).
   */
  public boolean dropSlot(String slot) throws SQLException {
    Statements.first(
        connection,
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            + " WHERE slot_name = ? AND active_pid IS NULL",
        rs -> true,
        slot);
    return slot(slot).isEmpty();
  }

  /**
   * The slot as the server sees it.
   *
   * @param walStatus {@code reserved}, {@code extended}, {@code unreserved} or {@code lost} (the
   *     server removed WAL the slot needed: changes are gone)
   * @param retainedBytes WAL the server keeps for the slot (current WAL position minus the slot's
   *     restart position)
   * @param unconfirmedBytes WAL written since the slot's confirmed position
   * @param activePid the server process reading the slot, or null
   */
  public record Slot(
      String name,
      String walStatus,
      long retainedBytes,
      long unconfirmedBytes,
      Integer activePid,
      long confirmedLsn) {
    public boolean lost() {
      return "lost".equals(walStatus);
    }
  }

  public Optional<Slot> slot(String slot) throws SQLException {
    return Statements.first(
        connection,
        "SELECT slot_name, wal_status,"
            + " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::int8,"
            + " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::int8,"
            + " active_pid, coalesce(confirmed_flush_lsn, '0/0')::text"
            + " FROM pg_replication_slots WHERE slot_name = ?",
        rs -> {
          int pid = rs.getInt(5);
          Integer activePid = rs.wasNull() ? null : pid;
          return new Slot(
              rs.getString(1),
              rs.getString(2),
              rs.getLong(3),
              rs.getLong(4),
              activePid,
              LogSequenceNumber.valueOf(rs.getString(6)).asLong());
        },
        slot);
  }

  /**
   * Records that everything up to the commit ending at {@code endLsn} is shipped, with positions up
   * to {@code lastPosition}; the slot is told afterwards, so a crash in between only replays
   * transactions this skips.
   */
  public void shipped(long endLsn, long lastPosition) throws SQLException {
    Statements.update(
        connection,
        "UPDATE replicador.wal_capture SET shipped_lsn = ?::pg_lsn, shipped_at = now()",
        LogSequenceNumber.valueOf(endLsn).asString());
    Statements.update(
        connection, "UPDATE replicador.publisher SET next_position = ?", lastPosition + 1);
  }

  /** Seconds since the publisher last shipped a batch from the slot; null before the first. */
  public Double shippedSecondsAgo() throws SQLException {
    return Statements.first(
            connection,
            "SELECT extract(epoch FROM now() - shipped_at)::float8 FROM replicador.wal_capture",
            rs -> {
              double d = rs.getDouble(1);
              return rs.wasNull() ? null : d;
            })
        .orElse(null);
  }

  /** Records a table as captured (from the WAL: no triggers). */
  public void captured(TableName table) throws SQLException {
    Statements.update(
        connection,
        "INSERT INTO replicador.captured_tables (schema_name, table_name) VALUES (?, ?)"
            + " ON CONFLICT DO NOTHING",
        table.schema(),
        table.name());
  }

  /** Forgets WAL capture (the tables go back to triggers, or capture is uninstalled). */
  public void forget() throws SQLException {
    Statements.update(connection, "DELETE FROM replicador.wal_capture");
  }

  /** The prefix of the logical decoding messages Replicador writes into the WAL. */
  public static final String MESSAGE_PREFIX = "replicador";

  /** The content of the message that ends WAL capture (see {@link #announceEnd}). */
  public static final String END = "end";

  /**
   * Returns the WAL position now and writes a logical decoding message after it, outside any
   * transaction: once the slot's confirmed position reached the returned one, the publisher has
   * shipped every transaction that committed before this call (verify waits on it). The message
   * makes an idle publisher confirm at once (PostgreSQL 14 and newer pass it on).
   */
  public long mark() throws SQLException {
    long now =
        Statements.first(
                connection,
                "SELECT pg_current_wal_insert_lsn()::text",
                rs -> LogSequenceNumber.valueOf(rs.getString(1)).asLong())
            .orElseThrow();
    Statements.first(
        connection, "SELECT pg_logical_emit_message(false, ?, 'mark')", rs -> true, MESSAGE_PREFIX);
    return now;
  }

  /**
   * Writes, in the caller's transaction, the message that ends WAL capture where it commits: the
   * publisher ships the slot's transactions up to it, then drops slot and publication and goes on
   * with the triggers the same transaction installed.
   */
  public void announceEnd() throws SQLException {
    Statements.first(
        connection, "SELECT pg_logical_emit_message(true, ?, ?)", rs -> true, MESSAGE_PREFIX, END);
    Statements.update(connection, "UPDATE replicador.wal_capture SET ending = true");
  }

  /** Whether capture from the WAL is ending (see {@link #announceEnd}). */
  public boolean ending() throws SQLException {
    if (!Migrations.exists(connection, "replicador.wal_capture")) {
      return false;
    }
    return Statements.first(
            connection, "SELECT ending FROM replicador.wal_capture", rs -> rs.getBoolean(1))
        .orElse(false);
  }
}
