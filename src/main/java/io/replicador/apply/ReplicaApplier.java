package io.replicador.apply;

import io.replicador.change.ChangeMessage;
import io.replicador.change.Position;
import io.replicador.change.PrimarySnapshot;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import io.replicador.codec.ChangeMessageCodec;
import io.replicador.codec.MalformedMessageException;
import io.replicador.config.ConfigException;
import io.replicador.schema.TableCatalog;
import io.replicador.store.ReplicaStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies change messages to a replica: each batch in one replica transaction that also records the
 * last applied position per source, so a redelivered transaction is recognised and skipped. Large
 * transactions arrive in parts, and become visible all at once: parts that cannot wait for the last
 * one in the listener's memory are staged on the replica (through a second connection, whose
 * commits let the broker forget them) and, as they come, applied in a replica transaction left open
 * until the last part commits it. Should that transaction be lost (a failure, the listener
 * restarting, another transaction coming between the parts), the last part applies the staged ones
 * instead. Owns no connection, and a thread that stages parts while it applies; not thread-safe.
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
  private final ChangeWriter writer;
  private String database;
  private Map<String, Long> positions = new HashMap<>();

  /**
   * Per source, the tables a snapshot copied and the primary snapshot it copied them in: a change
   * that snapshot includes is in the copy already and is not applied again (applying it again could
   * break the replica's unique constraints or fire its triggers twice).
   */
  private Map<String, Map<TableName, PrimarySnapshot>> copies = new HashMap<>();

  /** The large transaction {@code connection} holds open, its parts so far applied; or null. */
  private OpenTransaction open;

  /** Whether the replica records this listener as halted, until a commit clears it. */
  private boolean halted;

  /** The stream this replica reads, or null when it has a queue of its own. */
  private String stream;

  /** The offset of the last message of {@code stream} processed, as committed; -1 for none. */
  private long streamOffset = -1;

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
   * @param allowReplicaTriggers apply even where, without session_replication_role, replacing a row
   *     would fire the replica's ON DELETE actions or DELETE triggers (see ReplicaSafety)
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
    this.writer = new ChangeWriter(connection, replicaName, tables);
  }

  /** Creates or upgrades the bookkeeping tables if needed and loads the applied positions. */
  public void prepare() throws SQLException {
    ReplicaStore.migrate(connection);
    database = ReplicaStore.identity(connection);
    connection.commit();
    requireTables();
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
    writer.prepare();
    positions = store.positions();
    copies = store.copies();
    halted = store.halted().isPresent();
    if (stream != null) {
      streamOffset = store.streamOffset(stream);
    }
    connection.commit();
  }

  /**
   * Reads {@code stream}: every commit also saves the offset of the last message it processed, so
   * that a restarted listener resumes after it. Call before {@link #prepare}.
   */
  public void readsStream(String stream) {
    this.stream = stream;
  }

  /**
   * Takes the lock that keeps a second listener of this replica from reading the stream too; false
   * when another listener holds it. Held until the connection closes.
   */
  public boolean lockListener() throws SQLException {
    boolean locked = store.tryListenerLock();
    connection.commit();
    return locked;
  }

  /** The offset of the last stream message processed, as committed; -1 for none. */
  public long streamOffset() {
    return streamOffset;
  }

  /**
   * Records, in a transaction of its own, why the listener stops applying (for {@code status});
   * cleared by the next commit that applies. Holds no large transaction open afterwards.
   */
  public void recordHalt(String reason) throws SQLException {
    forget();
    store.recordHalt(reason);
    connection.commit();
    halted = true;
  }

  /** Fails, naming them, when tables this replica was told to take do not exist on it. */
  private void requireTables() throws SQLException {
    List<TableName> missing = new ArrayList<>();
    TableCatalog catalog = new TableCatalog(connection);
    for (TableName t : tables) {
      if (catalog.find(t).isEmpty()) {
        missing.add(t);
      }
    }
    connection.commit();
    if (!missing.isEmpty()) {
      throw new ConfigException(
          "Replica "
              + replicaName
              + ": --tables names "
              + missing
              + ", which "
              + (missing.size() == 1 ? "does" : "do")
              + " not exist on the replica; check the"
              + " spelling (schema.table), or create the table (or run snapshot)");
    }
  }

  /**
   * The replica's WAL positions: {@code [0]} at or after the end of the last commit, {@code [1]} up
   * to which everything is on disk.
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
   * applies them from there. For a listener left waiting, so that an open transaction does not hold
   * locks and old row versions on the replica.
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
  /** Which database this replica is (see {@link ReplicaStore#identity}); after prepare. */
  public String database() {
    return database;
  }

  public Map<String, Long> positions() {
    return Map.copyOf(positions);
  }

  /**
   * Applies the messages in one replica transaction and commits. On failure rolls back, leaves the
   * positions as they were, and forgets cached table definitions (the fix may be a schema change).
   *
   * <p>A batch that ends inside a large transaction is acknowledged once its staged parts are
   * committed, while the transaction's parts so far stay applied, uncommitted, for its next parts.
   *
   * @param durable whether the commit waits for the replica's disk (the session's commits do not)
   */
  public void apply(List<Incoming> batch, boolean durable) throws SQLException, ApplyException {
    apply(batch, durable, -1);
  }

  /**
   * As {@link #apply(List, boolean)}, for a replica reading a stream: {@code endOffset} is the
   * offset of the batch's last message (change message or not), saved with the commit that applies
   * the batch; -1 for none.
   */
  public void apply(List<Incoming> batch, boolean durable, long endOffset)
      throws SQLException, ApplyException {
    Map<String, Long> next = new HashMap<>(positions);
    Map<String, String> lastXid = new HashMap<>();
    // Parts of a transaction that ends within this batch are applied directly with its last
    // part; only parts whose transaction goes on past the batch are staged on the replica.
    Set<Position> endingHere = new HashSet<>();
    for (Incoming in : batch) {
      for (SourceTransaction tx : in.message().transactions()) {
        if (tx.last() && tx.part() > 0) {
          endingHere.add(Position.of(in.message().source(), tx));
        }
      }
    }
    Map<Position, Map<Integer, SourceTransaction>> held = new HashMap<>();
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
                    + " and run 'replicador snapshot --name "
                    + replicaName
                    + "' for all tables",
                replicaName,
                applied + 1,
                tx.position() - 1,
                source);
          }
          Position transaction = Position.of(source, tx);
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
                // the messages before this one are done; this one may hold more
                commit(next, lastXid, durable, in.offset() - 1);
                open = new OpenTransaction(source, tx.position(), 0);
              }
            }
            if (open != null && open.isNext(source, tx)) {
              writer.write(tx, copies.getOrDefault(source, Map.of()));
              open = open.advanced();
            }
            continue;
          }
          if (open != null && open.isNext(source, tx)) {
            open = null; // every earlier part is applied already
            store.deleteStaged(source, tx.position());
          } else if (tx.part() > 0
              && !applyEarlierParts(
                  source, tx, applied, held.getOrDefault(transaction, Map.of()))) {
            continue;
          }
          writer.write(tx, copies.getOrDefault(source, Map.of()));
          next.put(source, tx.position());
          lastXid.put(source, tx.xid());
        }
      }
      if (open != null) {
        writer.flush(); // written now, while the next parts travel
        stager.commit(durable);
        return;
      }
      stager.commit(false); // made durable by the commit below when that waits for the disk
      commit(next, lastXid, durable, endOffset);
    } catch (SQLException | ApplyException | RuntimeException e) {
      open = null;
      rollBack();
      try {
        stager.rollback();
      } catch (SQLException | RuntimeException ignored) {
        log.debug("Rollback of staging failed", ignored); // the failure to report is e
      }
      writer.forgetTables();
      throw e;
    }
  }

  /** Commits what this batch applied, with the positions it reached. */
  private void commit(
      Map<String, Long> next, Map<String, String> lastXid, boolean durable, long offset)
      throws SQLException, ApplyException {
    writer.flush();
    writer.advanceSequences();
    store.savePositions(next, lastXid);
    // in the same transaction as what it applied: a restart neither loses nor repeats a message
    boolean offsetMoves = stream != null && offset > streamOffset;
    if (offsetMoves) {
      store.saveStreamOffset(stream, offset);
    }
    if (halted && !lastXid.isEmpty()) {
      store.clearHalt();
    }
    if (durable) {
      // with an id, so that the commit is written and waited for even when nothing was applied
      try (Statement st = connection.createStatement()) {
        st.execute("SET LOCAL synchronous_commit = on");
        st.execute("SELECT pg_current_xact_id()");
      }
    }
    connection.commit();
    if (!lastXid.isEmpty()) {
      halted = false;
    }
    positions = Map.copyOf(next);
    lastXid.clear();
    if (offsetMoves) {
      streamOffset = offset;
    }
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
    writer.reset();
  }

  /**
   * Applies parts 0..n-1 of the transaction {@code last} ends, in order, each from this batch when
   * it is here and else from staging, then clears the transaction's staging. When a part never
   * arrived, applies nothing: fails if this replica had applied earlier positions (the queue lost
   * messages), and otherwise returns false (the replica joined within the transaction).
   */
  private boolean applyEarlierParts(
      String source, SourceTransaction last, long applied, Map<Integer, SourceTransaction> here)
      throws SQLException, ApplyException {
    Set<Integer> staged = store.stagedParts(source, last.position());
    boolean complete = true;
    for (int part = 0; part < last.part() && complete; part++) {
      if (!here.containsKey(part) && !staged.contains(part)) {
        String what =
            "Replica "
                + replicaName
                + ": part "
                + part
                + " of position "
                + last.position()
                + " (transaction "
                + last.xid()
                + ") never arrived";
        if (applied > 0) {
          throw new ApplyException(
              what
                  + "; the queue lost messages. Stop this listener and run 'replicador snapshot"
                  + " --name "
                  + replicaName
                  + "' for all tables: it empties the queue and copies"
                  + " the replica afresh");
        }
        log.warn("{}; this replica joined mid-transaction and skips it", what);
        complete = false;
      }
    }
    if (complete) {
      for (int part = 0; part < last.part(); part++) {
        if (here.containsKey(part)) {
          writer.write(here.get(part), copies.getOrDefault(source, Map.of()));
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
          writer.write(tx, copies.getOrDefault(source, Map.of()));
        }
      }
    }
    if (!staged.isEmpty()) {
      store.deleteStaged(source, last.position());
    }
    return complete;
  }

  private void rollbackQuietly() {
    try {
      connection.rollback();
    } catch (SQLException e) {
      log.debug("Rollback failed", e);
    }
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

  /**
   * A decoded message with its raw body (kept for staging), broker delivery tag and stream offset
   * (-1 when it came from a queue).
   */
  public record Incoming(ChangeMessage message, byte[] body, long deliveryTag, long offset) {
    public Incoming(ChangeMessage message, byte[] body, long deliveryTag) {
      this(message, body, deliveryTag, -1);
    }
  }
}
