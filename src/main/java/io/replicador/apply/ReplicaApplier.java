package io.replicador.apply;

import io.replicador.Failures;
import io.replicador.change.Change;
import io.replicador.change.Identifiers;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.PrimarySnapshot;
import io.replicador.change.Relation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import io.replicador.codec.ChangeMessageCodec;
import io.replicador.codec.MalformedMessageException;
import io.replicador.schema.TableCatalog;
import io.replicador.store.ReplicaStore;
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
 * Applies change messages to a replica: each batch in one replica transaction that also records
 * the last applied position per source, so a redelivered transaction is recognised and skipped.
 * Large transactions arrive in parts, and become visible all at once: parts that cannot wait for
 * the last one in the listener's memory are staged on the replica (through a second connection,
 * whose commits let the broker forget them) and, as they come, applied in a replica transaction
 * left open until the last part commits it. Should that transaction be lost (a failure, the
 * listener restarting, another transaction coming between the parts), the last part applies the
 * staged ones instead. Owns no connection, and a thread that stages parts while it applies;
 * not thread-safe.
 */
public final class ReplicaApplier implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReplicaApplier.class);

  private final Connection connection;
  /** Stages parts and commits them while {@code connection} keeps a large transaction open. */
  private final PartStager stager;
  private final ReplicaStore store;
  private final String replicaName;
  private final Set<TableName> tables;
  private final boolean allowReplicaTriggers;
  private final ChangeMessageCodec codec = new ChangeMessageCodec();
  private final Map<TableName, ReplicaTable> replicaTables = new HashMap<>();
  private final Map<String, PreparedStatement> statements = new HashMap<>();
  private final BulkInserter bulk;
  private final ValuePieces pieces;
  private final SequenceCatchUp sequences = new SequenceCatchUp();
  private Map<String, Long> positions = new HashMap<>();
  /**
   * Per source, the tables a snapshot copied and the primary snapshot it copied them in: a
   * change that snapshot includes is in the copy already and is not applied again (applying it
   * again could break the replica's unique constraints or fire its triggers twice).
   */
  private Map<String, Map<TableName, PrimarySnapshot>> copies = new HashMap<>();
  /** The large transaction {@code connection} holds open, its parts so far applied; or null. */
  private OpenTransaction open;

  /**
   * @param connection applies changes
   * @param stager stages the parts of large transactions; another connection to the same database
   * @param tables the tables this replica takes; empty for all
   */
  public ReplicaApplier(
      Connection connection, Connection stager, String replicaName, Set<TableName> tables) {
    this(connection, stager, replicaName, tables, false);
  }

  /**
   * @param allowReplicaTriggers apply even where, without session_replication_role, replacing a
   *     row would fire the replica's ON DELETE actions or DELETE triggers (see ReplicaSafety)
   */
  public ReplicaApplier(
      Connection connection,
      Connection stager,
      String replicaName,
      Set<TableName> tables,
      boolean allowReplicaTriggers) {
    this.allowReplicaTriggers = allowReplicaTriggers;
    this.connection = connection;
    this.stager = new PartStager(stager, replicaName);
    this.store = new ReplicaStore(connection, replicaName);
    this.replicaName = replicaName;
    this.tables = Set.copyOf(tables);
    this.bulk = new BulkInserter(connection);
    this.pieces = new ValuePieces(connection);
  }

  /** Creates or upgrades the bookkeeping tables if needed and loads the applied positions. */
  public void prepare() throws SQLException {
    ReplicaStore.migrate(connection);
    try (Statement st = connection.createStatement()) {
      // Values arrive as text printed under capture's fixed settings; read them under matching
      // ones, whatever the replica's defaults: xmloption = document would reject XML content
      // fragments, lc_monetary sets money's scale, intervalstyle sql_standard re-reads signs.
      st.execute(
          "SET xmloption = content; SET intervalstyle = postgres; SET lc_monetary = 'C';"
              + " SET datestyle = 'ISO, YMD'");
      // Commits do not wait for the disk; the listener acknowledges a batch only once the WAL
      // holding its commit is flushed (see wal()), or asks for a waiting commit.
      st.execute("SET synchronous_commit = off");
    }
    connection.commit();
    boolean replicaRole;
    try (Statement st = connection.createStatement()) {
      // Replica role skips foreign-key and user triggers, as native replication does: the
      // primary already checked them, and a transaction's rows may arrive in any table order.
      st.execute("SET session_replication_role = replica");
      replicaRole = true;
    } catch (SQLException e) {
      connection.rollback();
      replicaRole = false;
    }
    connection.commit();
    if (!replicaRole) {
      ReplicaSafety.check(connection, replicaName, tables, allowReplicaTriggers);
      connection.commit();
      log.warn(
          "Replica {}: cannot set session_replication_role (needs superuser or GRANT SET ON"
              + " PARAMETER); the replica's foreign keys and triggers fire for applied changes",
          replicaName);
    }
    stager.prepare();
    pieces.prepare();
    positions = store.positions();
    copies = store.copies();
    connection.commit();
  }

  /**
   * The replica's WAL positions: {@code [0]} at or after the end of the last commit, {@code [1]}
   * up to which everything is on disk.
   */
  public long[] wal() throws SQLException {
    return stager.wal();
  }

  /** Makes every commit so far durable. */
  public void syncWal() throws SQLException {
    stager.commit(true);
  }

  /**
   * Gives up the large transaction held open, if any: its parts are staged, and its last part
   * applies them from there. For a listener left waiting, so that an open transaction does not
   * hold locks and old row versions on the replica.
   */
  public void abandonOpenTransaction() {
    if (open != null) {
      log.info(
          "Replica {}: position {} of source {} waits for its next part; its {} parts so far stay"
              + " staged",
          replicaName,
          open.position(),
          open.source(),
          open.next());
      forget();
    }
  }

  /** Whether a large transaction is held open. */
  public boolean holdsOpenTransaction() {
    return open != null;
  }

  /** The last applied position per source, as committed. */
  public Map<String, Long> positions() {
    return Map.copyOf(positions);
  }

  /**
   * Applies the messages in one replica transaction and commits. On failure rolls back, leaves
   * the positions as they were, and forgets cached table definitions (the fix may be a schema
   * change).
   *
   * <p>A batch that ends inside a large transaction is acknowledged once its staged parts are
   * committed, while the transaction's parts so far stay applied, uncommitted, for its next parts.
   *
   * @param durable whether the commit waits for the replica's disk (the session's commits do not)
   */
  public void apply(List<Incoming> batch, boolean durable) throws SQLException, ApplyException {
    Map<String, Long> next = new HashMap<>(positions);
    Map<String, String> lastXid = new HashMap<>();
    // Parts of a transaction that ends within this batch are applied directly with its last
    // part; only parts whose transaction goes on past the batch are staged on the replica.
    Set<String> endingHere = new HashSet<>();
    for (Incoming in : batch) {
      for (SourceTransaction tx : in.message().transactions()) {
        if (tx.last() && tx.part() > 0) {
          endingHere.add(in.message().source() + ":" + tx.position());
        }
      }
    }
    Map<String, Map<Integer, SourceTransaction>> held = new HashMap<>();
    try {
      for (Incoming in : batch) {
        for (SourceTransaction tx : in.message().transactions()) {
          String source = in.message().source();
          long applied = next.getOrDefault(source, 0L);
          if (tx.position() <= applied) {
            continue; // redelivered: already applied in an earlier replica transaction
          }
          if (applied > 0 && tx.position() > applied + 1) {
            log.warn(
                "Replica {}: positions {}..{} of source {} never arrived; the queue lost"
                    + " messages or was recreated. Run verify; if it differs, stop this listener"
                    + " and run 'replicador snapshot --name " + replicaName + "' for all tables",
                replicaName,
                applied + 1,
                tx.position() - 1,
                source);
          }
          String transaction = source + ":" + tx.position();
          if (open != null && !open.holds(source, tx)) {
            // something else comes between its parts: the staged parts serve instead
            forget();
          }
          if (!tx.last()) {
            if (endingHere.contains(transaction)) {
              // a part published twice (a publisher resumed its batch) is kept once
              held.computeIfAbsent(transaction, k -> new HashMap<>()).putIfAbsent(tx.part(), tx);
            } else {
              stager.stage(source, tx, in.body());
              if (open == null && tx.part() == 0) {
                // a transaction longer than the batch begins: what came before it commits on
                // its own, and its parts are applied as they come in a transaction left open
                commit(next, lastXid, durable);
                open = new OpenTransaction(source, tx.position(), 0);
              }
            }
            if (open != null && open.isNext(source, tx)) {
              applyChanges(source, tx);
              open = open.advanced();
            }
            continue;
          }
          if (open != null && open.isNext(source, tx)) {
            open = null; // every earlier part is applied already
            store.deleteStaged(source, tx.position());
          } else if (tx.part() > 0
              && !applyEarlierParts(source, tx, applied, held.getOrDefault(transaction, Map.of()))) {
            continue;
          }
          applyChanges(source, tx);
          next.put(source, tx.position());
          lastXid.put(source, tx.xid());
        }
      }
      if (open != null) {
        flush(); // written now, while the next parts travel
        stager.commit(durable);
        return;
      }
      stager.commit(false); // made durable by the commit below when that waits for the disk
      commit(next, lastXid, durable);
    } catch (SQLException | ApplyException | RuntimeException e) {
      open = null;
      rollBack();
      try {
        stager.rollback();
      } catch (SQLException | RuntimeException ignored) {
        log.debug("Rollback of staging failed", ignored); // the failure to report is e
      }
      replicaTables.clear();
      plans.clear();
      lastRelation = null;
      lastPlan = null;
      closeStatements();
      throw e;
    }
  }

  /** Commits what this batch applied, with the positions it reached. */
  private void commit(Map<String, Long> next, Map<String, String> lastXid, boolean durable)
      throws SQLException, ApplyException {
    flush();
    sequences.advance(connection);
    store.savePositions(next, lastXid);
    if (durable) {
      // with an id, so that the commit is written and waited for even when nothing was applied
      try (Statement st = connection.createStatement()) {
        st.execute("SET LOCAL synchronous_commit = on");
        st.execute("SELECT pg_current_xact_id()");
      }
    }
    connection.commit();
    positions = Map.copyOf(next);
    lastXid.clear();
  }

  /** Rolls back the open transaction, if any; its parts stay staged. */
  private void forget() {
    if (open != null) {
      open = null;
      rollBack();
    }
  }

  /** Rolls back the replica transaction and forgets what it held. */
  private void rollBack() {
    rollbackQuietly();
    run.clear();
    runKeys.clear();
    runSql = null;
    sequences.clear();
    bulk.reset(); // its temporary tables may have gone with the transaction
    pieces.reset();
  }

  /**
   * Applies parts 0..n-1 of the transaction {@code last} ends, in order, each from this batch
   * when it is here and else from staging, then clears the transaction's staging. When a part
   * never arrived, applies nothing: fails if this replica had applied earlier positions (the queue
   * lost messages), and otherwise returns false (the replica joined within the transaction).
   */
  private boolean applyEarlierParts(
      String source, SourceTransaction last, long applied, Map<Integer, SourceTransaction> here)
      throws SQLException, ApplyException {
    Set<Integer> staged = store.stagedParts(source, last.position());
    boolean complete = true;
    for (int part = 0; part < last.part() && complete; part++) {
      if (!here.containsKey(part) && !staged.contains(part)) {
        String what =
            "Replica " + replicaName + ": part " + part + " of position " + last.position()
                + " (transaction " + last.xid() + ") never arrived";
        if (applied > 0) {
          throw new ApplyException(
              what + "; the queue lost messages. Stop this listener and run 'replicador snapshot"
                  + " --name " + replicaName + "' for all tables: it empties the queue and copies"
                  + " the replica afresh");
        }
        log.warn("{}; this replica joined mid-transaction and skips it", what);
        complete = false;
      }
    }
    if (complete) {
      for (int part = 0; part < last.part(); part++) {
        if (here.containsKey(part)) {
          applyChanges(source, here.get(part));
          continue;
        }
        ChangeMessage message;
        try {
          message = codec.decode(store.stagedPart(source, last.position(), part));
        } catch (MalformedMessageException e) {
          throw new ApplyException(
              "Replica " + replicaName + ": staged part is unreadable: " + e.getMessage());
        }
        for (SourceTransaction tx : message.transactions()) {
          applyChanges(source, tx);
        }
      }
    }
    if (!staged.isEmpty()) {
      store.deleteStaged(source, last.position());
    }
    return complete;
  }

  // ---- applying changes, batching runs of the same statement across source transactions ----

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

  private void applyChanges(String source, SourceTransaction tx)
      throws SQLException, ApplyException {
    Map<TableName, PrimarySnapshot> copied = copies.getOrDefault(source, Map.of());
    for (Change change : tx.changes()) {
      if (!tables.isEmpty() && !tables.contains(change.table())) {
        continue;
      }
      PrimarySnapshot copy = copied.isEmpty() ? null : copied.get(change.table());
      if (copy != null && copy.includes(tx.xid())) {
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

  private void flush() throws SQLException, ApplyException {
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
          bind(ps, switch (c.op()) {
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
   * Replaces the row: the old one is deleted if it is there, then the new version is upserted.
   * A missing old row is not deleted at all, so not even a statement-level DELETE trigger fires.
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
   * Applies an insert or update whose large values came as pieces before it, joined by the
   * server from {@link ValuePieces}, as {@link #flush} would apply it otherwise.
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
    String detail = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst()
        .orElse("");
    String column = failingColumn(e);
    return new ApplyException(
        "Replica " + replicaName + ": cannot apply " + change.op().wireName() + " on "
            + change.table() + (column == null ? "" : " column " + Identifiers.quote(column))
            + " at position " + tx.position() + " (transaction " + tx.xid() + "): " + detail
            + " [SQLSTATE " + e.getSQLState() + "]",
        e);
  }

  /**
   * The column a failed statement of the current run tripped on, or null. The server names it
   * for some errors (NOT NULL); for a value its input function rejects (class 22, or a domain's
   * check) it does not, so each value of the run is read again on its own with the column's
   * type until one fails. Only on this failure path; rolls back the (already failed)
   * transaction.
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
      List<String> columns = c.op() == Operation.DELETE ? c.relation().key() : c.relation().columns();
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
            "Replica " + replicaName + ": table " + table + " does not exist; create it (or run"
                + " snapshot), or leave it out with --tables, and the listener continues");
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

  /**
   * A large transaction applied up to, not including, part {@code next}, in a replica transaction
   * left open.
   */
  private record OpenTransaction(String source, long position, int next) {
    boolean isNext(String source, SourceTransaction tx) {
      return this.source.equals(source) && tx.position() == position && tx.part() == next;
    }

    /** Its next part, or one it has already (published twice). */
    boolean holds(String source, SourceTransaction tx) {
      return this.source.equals(source) && tx.position() == position && tx.part() <= next;
    }

    OpenTransaction advanced() {
      return new OpenTransaction(source, position, next + 1);
    }
  }

  /** Stops the staging thread; the connections stay open. */
  @Override
  public void close() {
    stager.close();
  }

  /** A decoded message with its raw body (kept for staging) and broker delivery tag. */
  public record Incoming(ChangeMessage message, byte[] body, long deliveryTag) {}
}
