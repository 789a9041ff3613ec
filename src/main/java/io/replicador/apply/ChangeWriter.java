package io.replicador.apply;

import io.replicador.Failures;
import io.replicador.change.Change;
import io.replicador.change.Identifiers;
import io.replicador.change.Operation;
import io.replicador.change.PrimarySnapshot;
import io.replicador.change.Relation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import io.replicador.schema.TableCatalog;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.postgresql.util.PSQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes source transactions' changes into the replica's tables, inside the replica transaction its
 * caller manages: consecutive changes that take the same statement form a run, across source
 * transactions, and a run goes out as one COPY (inserts) or one statement batch. Large values are
 * joined from their pieces ({@link ValuePieces}); the replica's sequences are moved past what was
 * written before each commit. A change the replica cannot take fails with the replica, table,
 * column and position named. Uses the caller's connection; not thread-safe.
 */
final class ChangeWriter {
  private static final Logger log = LoggerFactory.getLogger(ChangeWriter.class);

  private final Connection connection;
  private final String replicaName;
  private final Set<TableName> tables;
  private final Map<TableName, ReplicaTable> replicaTables = new HashMap<>();
  private final Map<String, PreparedStatement> statements = new HashMap<>();
  private final BulkInserter bulk;
  private final ValuePieces pieces;
  private final SequenceCatchUp sequences = new SequenceCatchUp();

  /**
   * @param tables the tables this replica takes; empty for all
   */
  ChangeWriter(Connection connection, String replicaName, Set<TableName> tables) {
    this.connection = connection;
    this.replicaName = replicaName;
    this.tables = tables;
    this.bulk = new BulkInserter(connection);
    this.pieces = new ValuePieces(connection);
  }

  /** Session set-up; commits. */
  void prepare() throws SQLException {
    pieces.prepare();
  }

  /** Moves the replica's sequences past the values written since the last commit. */
  void advanceSequences() throws SQLException {
    sequences.advance(connection);
  }

  /** After a rollback: forgets the run and what went with the transaction. */
  void reset() {
    run.clear();
    runKeys.clear();
    runSql = null;
    sequences.clear();
    bulk.reset(); // its temporary tables may have gone with the transaction
    pieces.reset();
  }

  /**
   * After a failure: forgets what it knew of the replica's tables (they may be fixed by now) and
   * its prepared statements.
   */
  void forgetTables() {
    replicaTables.clear();
    plans.clear();
    lastRelation = null;
    lastPlan = null;
    closeStatements();
  }

  /** Runs at least this long go set-based through COPY; shorter ones as statement batches. */
  private static final int BULK_MIN_ROWS = 32;

  /** Bounds memory: a run is written out once it holds this many changes. */
  private static final int MAX_RUN_ROWS = 10_000;

  private final List<Change> run = new ArrayList<>();
  private final Set<Object> runKeys = new HashSet<>();
  private SourceTransaction runTx;
  private String runSql;
  private TablePlan runPlan;
  private final Map<Relation, TablePlan> plans = new HashMap<>();
  private Relation lastRelation;
  private TablePlan lastPlan;

  /**
   * Applies a source transaction's changes (of the tables this replica takes, and not already in a
   * snapshot's copy of their table: {@code copied}), or keeps them in the current run.
   */
  void write(SourceTransaction tx, Map<TableName, PrimarySnapshot> copied)
      throws SQLException, ApplyException {
    for (Change change : tx.changes()) {
      if (!tables.isEmpty() && !tables.contains(change.table())) {
        continue;
      }
      PrimarySnapshot copy = copied.isEmpty() ? null : copied.get(change.table());
      if (copy != null && copy.includes(tx.xid())) {
        continue;
      }
      if (change.op() == Operation.DDL) {
        applyDdl(tx, change);
        continue;
      }
      if (change.op() == Operation.VALUE) {
        flush();
        pieces.add(change.chunked().get(0), change.values().get(0));
        continue;
      }
      TablePlan plan = plan(change.relation());
      if (!change.chunked().isEmpty()) {
        flush();
        plan.noteSequences(change, sequences);
        applyPieced(tx, plan, change);
        continue;
      }
      String sql = plan.statement(change);
      if (change.op() == Operation.INSERT || change.op() == Operation.UPDATE) {
        plan.noteSequences(change, sequences);
      }
      // an insert run must not name a key twice: ON CONFLICT cannot touch a row twice
      Object key = change.op() == Operation.INSERT ? plan.insertedKey(change) : null;
      if (!sql.equals(runSql)
          || (key != null && runKeys.contains(key))
          || run.size() >= MAX_RUN_ROWS) {
        flush();
        runSql = sql;
        runTx = tx;
        runPlan = plan;
      }
      if (key != null) {
        runKeys.add(key);
      }
      run.add(change);
    }
  }

  /**
   * Runs a schema change in the replica transaction, after everything before it, with the search
   * path it ran with on the primary. What this writer knew of the replica's tables (columns, types,
   * prepared statements, staging tables) may be stale afterwards, so it is forgotten, and the
   * changes that follow are planned against the tables as they are now, in the same transaction
   * that records the position.
   */
  private void applyDdl(SourceTransaction tx, Change change) throws SQLException, ApplyException {
    flush();
    // values noted for a sequence the statement may drop are written out first
    sequences.advance(connection);
    try (Statement st = connection.createStatement()) {
      String before = searchPath(st);
      if (!change.searchPath().isEmpty()) {
        setSearchPath(change.searchPath());
      }
      st.execute(change.statement());
      setSearchPath(before);
    } catch (SQLException e) {
      if (Failures.isConnectionFailure(e)) {
        throw e;
      }
      throw failure(tx, change, e);
    } finally {
      forgetTables();
      bulk.reset();
    }
    log.info(
        "Replica {}: applied schema change on {} at position {}",
        replicaName,
        change.table(),
        tx.position());
  }

  private static String searchPath(Statement st) throws SQLException {
    try (ResultSet rs = st.executeQuery("SELECT current_setting('search_path')")) {
      rs.next();
      return rs.getString(1);
    }
  }

  /** For this transaction only: the connection's own setting comes back with the commit. */
  private void setSearchPath(String searchPath) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement("SELECT set_config('search_path', ?, true)")) {
      ps.setString(1, searchPath);
      ps.executeQuery().close();
    }
  }

  /** Writes out the current run. */
  void flush() throws SQLException, ApplyException {
    if (run.isEmpty()) {
      return;
    }
    Change first = run.get(0);
    SourceTransaction tx = runTx;
    TablePlan plan = runPlan;
    try {
      if (first.op() == Operation.INSERT && run.size() >= BULK_MIN_ROWS) {
        bulk.insert(run, plan.alwaysIdentity);
      } else if (first.op() == Operation.TRUNCATE) {
        try (Statement st = connection.createStatement()) {
          st.execute(runSql);
        }
      } else if (runSql.startsWith(TablePlan.REPLACE)) {
        for (Change c : run) {
          replace(plan, c);
        }
      } else {
        boolean keyChange = runSql.equals(plan.keyChange);
        PreparedStatement ps = statement(runSql);
        for (Change c : run) {
          bind(
              ps,
              switch (c.op()) {
                case INSERT -> c.values();
                case UPDATE -> plan.updateParameters(c, keyChange);
                default -> c.key();
              });
          ps.addBatch();
        }
        int[] counts = ps.executeBatch();
        if (first.op() == Operation.UPDATE) {
          for (int i = 0; i < counts.length; i++) {
            if (counts[i] == 0) {
              // The row was not there (e.g. before a snapshot caught up), its new key was
              // taken, or a GENERATED ALWAYS identity column that UPDATE cannot set changed.
              replace(plan, run.get(i));
            }
          }
        }
      }
    } catch (SQLException e) {
      SQLException cause =
          e instanceof BatchUpdateException && e.getNextException() != null
              ? e.getNextException()
              : e;
      if (Failures.isConnectionFailure(cause)) {
        throw cause; // the replica went away: not a problem of this change, reconnect
      }
      throw failure(tx, first, cause);
    } finally {
      run.clear();
      runKeys.clear();
      runSql = null;
      runTx = null;
      runPlan = null;
    }
  }

  /** The plan for the relation; the last one is kept at hand, as changes come in runs. */
  private TablePlan plan(Relation relation) throws SQLException, ApplyException {
    if (relation == lastRelation) {
      return lastPlan;
    }
    TablePlan plan = plans.get(relation);
    if (plan == null) {
      plan = new TablePlan(relation, replicaTable(relation.table()), replicaName);
      plans.put(relation, plan);
    }
    lastRelation = relation;
    lastPlan = plan;
    return plan;
  }

  /**
   * Replaces the row: the old one is deleted if it is there, then the new version is upserted. A
   * missing old row is not deleted at all, so not even a statement-level DELETE trigger fires.
   */
  private void replace(TablePlan plan, Change c) throws SQLException {
    if (c.op() == Operation.UPDATE) {
      deleteIfThere(plan, c);
    }
    bindAndRun(plan.upsert, c.values());
  }

  private void deleteIfThere(TablePlan plan, Change c) throws SQLException {
    PreparedStatement ps = statement(plan.exists);
    bind(ps, c.key());
    boolean there;
    try (ResultSet rs = ps.executeQuery()) {
      there = rs.next();
    }
    if (there) {
      bindAndRun(plan.delete, c.key());
    }
  }

  /**
   * Applies an insert or update whose large values came as pieces before it, joined by the server
   * from {@link ValuePieces}, as {@link #flush} would apply it otherwise.
   */
  private void applyPieced(SourceTransaction tx, TablePlan plan, Change c)
      throws SQLException, ApplyException {
    TablePlan.Pieced sql = plan.pieced(c.chunked());
    try {
      boolean done = false;
      if (c.op() == Operation.UPDATE) {
        boolean keyChange = plan.keyChanged(c);
        String update = keyChange ? sql.keyChange() : sql.update();
        if (update != null) {
          PreparedStatement ps = statement(update);
          bind(ps, plan.updateParameters(c, keyChange));
          done = ps.executeUpdate() > 0;
        }
        if (!done) {
          deleteIfThere(plan, c);
        }
      }
      if (!done) {
        bindAndRun(sql.upsert(), plan.upsertParameters(c));
      }
      pieces.clear();
    } catch (SQLException e) {
      if (Failures.isConnectionFailure(e)) {
        throw e;
      }
      throw failure(tx, c, e);
    }
  }

  private void bindAndRun(String sql, List<String> values) throws SQLException {
    PreparedStatement ps = statement(sql);
    bind(ps, values);
    ps.executeUpdate();
  }

  /** Values go as untyped text: the server reads each with the column type's input function. */
  private static void bind(PreparedStatement ps, List<String> values) throws SQLException {
    for (int i = 0; i < values.size(); i++) {
      String v = values.get(i);
      if (v == null) {
        ps.setNull(i + 1, Types.OTHER);
      } else {
        ps.setObject(i + 1, v, Types.OTHER);
      }
    }
  }

  private ApplyException failure(SourceTransaction tx, Change change, SQLException e) {
    String detail =
        e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
    if (change.op() == Operation.DDL) {
      return new ApplyException(
          "Replica "
              + replicaName
              + ": cannot apply the schema change on "
              + change.table()
              + " at position "
              + tx.position()
              + " (transaction "
              + tx.xid()
              + "): "
              + detail
              + " [SQLSTATE "
              + e.getSQLState()
              + "]; statement: "
              + change.statement().strip().replaceAll("\\s+", " ")
              + ". Fix the replica so that the statement can run there; the listener retries it and"
              + " goes on",
          e,
          change.table());
    }
    String column = failingColumn(e);
    return new ApplyException(
        "Replica "
            + replicaName
            + ": cannot apply "
            + change.op().wireName()
            + " on "
            + change.table()
            + (column == null ? "" : " column " + Identifiers.quote(column))
            + " at position "
            + tx.position()
            + " (transaction "
            + tx.xid()
            + "): "
            + detail
            + " [SQLSTATE "
            + e.getSQLState()
            + "]",
        e,
        change.table());
  }

  /**
   * The column a failed statement of the current run tripped on, or null. The server names it for
   * some errors (NOT NULL); for a value its input function rejects (class 22, or a domain's check)
   * it does not, so each value of the run is read again on its own with the column's type until one
   * fails. Only on this failure path; rolls back the (already failed) transaction.
   */
  private String failingColumn(SQLException e) {
    if (e instanceof PSQLException p
        && p.getServerErrorMessage() != null
        && p.getServerErrorMessage().getColumn() != null) {
      return p.getServerErrorMessage().getColumn();
    }
    String state = e.getSQLState();
    if (state == null || !(state.startsWith("22") || state.equals("23514"))) {
      return null;
    }
    rollbackQuietly();
    for (Change c : run) {
      ReplicaTable table = replicaTables.get(c.table());
      List<String> columns =
          c.op() == Operation.DELETE ? c.relation().key() : c.relation().columns();
      List<String> values = c.op() == Operation.DELETE ? c.key() : c.values();
      for (int i = 0; table != null && i < columns.size(); i++) {
        String type = table.type(columns.get(i));
        if (type == null || values.get(i) == null) {
          continue;
        }
        try (PreparedStatement ps = connection.prepareStatement("SELECT ?::" + type)) {
          ps.setObject(1, values.get(i), Types.OTHER);
          ps.executeQuery().close();
        } catch (SQLException rejected) {
          rollbackQuietly();
          return columns.get(i);
        }
      }
    }
    rollbackQuietly();
    return null;
  }

  private PreparedStatement statement(String sql) throws SQLException {
    PreparedStatement ps = statements.get(sql);
    if (ps == null) {
      ps = connection.prepareStatement(sql);
      statements.put(sql, ps);
    }
    return ps;
  }

  private ReplicaTable replicaTable(TableName table) throws SQLException, ApplyException {
    ReplicaTable t = replicaTables.get(table);
    if (t == null) {
      TableCatalog catalog = new TableCatalog(connection);
      var ref = catalog.find(table);
      if (ref.isEmpty()) {
        throw new ApplyException(
            "Replica "
                + replicaName
                + ": table "
                + table
                + " does not exist; create it (or run"
                + " snapshot), or leave it out with --tables, and the listener continues",
            table);
      }
      t =
          new ReplicaTable(
              table, catalog.columns(ref.get().oid()), catalog.ownedSequences(ref.get().oid()));
      replicaTables.put(table, t);
    }
    return t;
  }

  private void rollbackQuietly() {
    try {
      connection.rollback();
    } catch (SQLException e) {
      log.debug("Rollback failed", e);
    }
  }

  private void closeStatements() {
    for (PreparedStatement ps : statements.values()) {
      try {
        ps.close();
      } catch (SQLException e) {
        log.debug("Closing a statement failed", e);
      }
    }
    statements.clear();
  }
}
