package io.replicador.snapshot;

import io.replicador.broker.QueueInspector;
import io.replicador.broker.Topology;
import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import io.replicador.schema.DefinitionReader;
import io.replicador.schema.SessionSettings;
import io.replicador.schema.TableDefinition;
import io.replicador.schema.UserType;
import io.replicador.store.PrimaryStore;
import io.replicador.store.ReplicaStore;
import java.io.IOException;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a replica to a consistent copy of the primary's tables while the primary keeps taking
 * writes, so that {@code listen} continues from there with nothing lost.
 *
 * <p>Order matters: (1) every existing replica table is checked and missing ones are created; (2)
 * the replica's queue is declared, so from now on every change the publisher ships waits in it; (3)
 * one REPEATABLE READ snapshot is taken on the primary and exported, and workers copy the tables in
 * that snapshot. A change committed before the snapshot is in the copy; one committed after it is
 * published after the queue existed, so it is in the queue. Changes that are both in the copy and
 * in the queue are recognised by the listener and not applied again: each copied table records the
 * primary's snapshot ({@code pg_current_snapshot()}), and a change of a transaction it includes is
 * skipped for that table. (Applying them again would pass the replica through states the primary
 * never had: a row re-inserted next to its later version breaks a unique constraint, and the
 * replica's triggers fire twice.)
 *
 * <p>Where the replica's role cannot set {@code session_replication_role}, its foreign keys and
 * triggers stay active during the copy: tables linked by a foreign key are then emptied referencing
 * tables first and copied one at a time, referenced tables first, and the copy runs under the
 * replica's own search path, as the listener does.
 *
 * <p>Each table is copied in one replica transaction that empties it first and records it in {@code
 * replicador.snapshot}: a rerun after an interruption skips the tables already done (their later
 * changes wait in the same queue) and copies the others afresh. When the queue did not exist
 * before, the replica's earlier bookkeeping for this name is reset: the stream starts anew. Blocks
 * until done; runs {@code jobs} worker threads.
 */
public final class Snapshotter {
  private static final Logger log = LoggerFactory.getLogger(Snapshotter.class);

  private final SnapshotSettings settings;
  private final Clock clock;
  private volatile List<TableProgress> tableProgress = List.of();

  public Snapshotter(SnapshotSettings settings, Clock clock) {
    this.settings = settings;
    this.clock = clock;
  }

  /** Every table's progress once the copy has begun (empty before); for meters. Thread-safe. */
  public List<TableProgress> progress() {
    return tableProgress;
  }

  /** The outcome: tables created, copied and skipped, and rows copied. */
  public record Result(List<TableName> created, int copied, int skipped, long rows) {}

  public Result run(PrintStream progressOut, boolean terminal)
      throws SQLException, IOException, TimeoutException, InterruptedException {
    try (Connection primary = settings.primary().connect("replicador-snapshot");
        Connection replica = settings.replica().connect("replicador-snapshot")) {
      SessionSettings.apply(primary);
      SessionSettings.apply(replica);
      primary.setAutoCommit(false);
      replica.setAutoCommit(false);
      List<TableName> names = tablesToCopy(primary);
      DefinitionReader reader = new DefinitionReader(primary);
      List<TableDefinition> tables = new ArrayList<>();
      for (TableName name : names) {
        TableDefinition t =
            reader
                .table(name)
                .orElseThrow(
                    () -> new ConfigException("Table " + name + " does not exist on the primary"));
        if (t.key().isEmpty()) {
          throw new ConfigException(
              "Table " + name + " has no primary key on the primary; add one to replicate it");
        }
        tables.add(t);
      }
      List<UserType> types = reader.typesFor(tables);
      primary.commit();
      List<TableName> created = new ReplicaSchema(replica).prepare(tables, types);
      ReplicaStore.migrate(replica);

      if (settings.queueType().isStream()) {
        prepareStream(primary, replica, names, tables.size());
      } else {
        prepareQueue(primary, replica, names, tables.size());
      }
      boolean replicaRole = canSetReplicaRole(replica);
      ForeignKeyOrder order =
          replicaRole ? new ForeignKeyOrder(Map.of()) : ForeignKeyOrder.read(replica, names);
      replica.commit();
      if (!replicaRole) {
        log.warn(
            "Replica {}: cannot set session_replication_role (needs superuser or GRANT SET ON"
                + " PARAMETER); the replica's foreign keys and triggers fire during the copy{}",
            settings.name(),
            order.linked() ? ", so tables are copied one at a time, referenced tables first" : "");
      }
      if (order.linked()) {
        List<TableName> sorted = order.parentsFirst(names);
        tables.sort(Comparator.comparing((TableDefinition t) -> sorted.indexOf(t.name())));
        emptyChildrenFirst(replica, tables);
      }
      Result result =
          copyAll(primary, tables, created, progressOut, terminal, replicaRole, order.linked());
      new IndexPhase(settings, clock).run(primary, created, progressOut);
      return result;
    }
  }

  /** The replica's queue before the snapshot: changes committed after the snapshot wait in it. */
  private void prepareQueue(
      Connection primary, Connection replica, List<TableName> names, int tableCount)
      throws SQLException, IOException, TimeoutException, InterruptedException {
    try (QueueInspector broker =
        new QueueInspector(settings.broker(), "replicador-snapshot-" + settings.name())) {
      boolean fresh =
          broker.declareReplicaQueue(settings.exchange(), settings.name(), settings.queueType());
      boolean startOver = !fresh && startsOver(broker, replica, names);
      // a copy from scratch moves the name to this replica; anything else must be its own
      broker.bindReplica(settings.name(), ReplicaStore.identity(replica), fresh || startOver);
      broker.registerReplica(settings.exchange(), settings.name());
      replica.commit();
      if (fresh || startOver) {
        resetBookkeeping(primary, replica);
      }
      log.info(
          "Queue replicador.{} {}; copying {} table(s) from {} to {}",
          settings.name(),
          fresh
              ? "created"
              : startOver
                  ? "emptied (the copy replaces what waited in it)"
                  : "exists (its waiting changes will be applied after the copy)",
          tableCount,
          settings.primary(),
          settings.replica());
    }
  }

  /**
   * The stream before the snapshot: changes committed after the snapshot are kept in it. A whole
   * snapshot (every captured table, not the rerun of an interrupted one) starts the replica over:
   * it forgets where it was in the stream, so the listener reads it from its first message and
   * skips, by position, what the copy holds. Refused while a listener of the replica runs.
   */
  private void prepareStream(
      Connection primary, Connection replica, List<TableName> names, int tableCount)
      throws SQLException, IOException, TimeoutException, InterruptedException {
    try (QueueInspector broker =
        new QueueInspector(settings.broker(), "replicador-snapshot-" + settings.name())) {
      String stream =
          broker.ensureStream(settings.exchange(), settings.name(), settings.streamRetention());
      boolean startOver = streamStartsOver(replica, names);
      broker.bindReplica(settings.name(), ReplicaStore.identity(replica), startOver);
      broker.registerReplica(settings.exchange(), settings.name());
      replica.commit();
      if (startOver) {
        resetBookkeeping(primary, replica);
      }
      log.info(
          "Stream '{}' {}; copying {} table(s) from {} to {}",
          stream,
          startOver
              ? "is read from its start (the replica's earlier place in it is forgotten)"
              : "keeps this replica's place (its changes will be applied after the copy)",
          tableCount,
          settings.primary(),
          settings.replica());
    }
  }

  /** As {@link #startsOver}, for a stream replica. */
  private boolean streamStartsOver(Connection replica, List<TableName> names) throws SQLException {
    if (!settings.tables().isEmpty()) {
      return false;
    }
    ReplicaStore store = new ReplicaStore(replica, settings.name());
    Set<TableName> done = store.copiedTables();
    long copied = names.stream().filter(done::contains).count();
    boolean running = store.listenerRunning();
    replica.commit();
    if (copied > 0 && copied < names.size()) {
      return false; // an interrupted snapshot: carry on with the tables not copied yet
    }
    if (running) {
      throw new ConfigException(
          "Replica "
              + settings.name()
              + ": a listener is reading the stream into it; stop it before snapshotting the"
              + " whole replica (the copy replaces what it applied), then run the snapshot again");
    }
    return true;
  }

  private static boolean canSetReplicaRole(Connection replica) throws SQLException {
    try (Statement st = replica.createStatement()) {
      st.execute("SET LOCAL session_replication_role = replica");
      return true;
    } catch (SQLException e) {
      return false;
    } finally {
      replica.rollback();
    }
  }

  /**
   * With foreign keys active, a referenced table can be emptied only once the tables that reference
   * it are: the tables not copied yet are emptied before any is copied, referencing tables first.
   */
  private void emptyChildrenFirst(Connection replica, List<TableDefinition> parentsFirst)
      throws SQLException {
    TableCopier copier = new TableCopier(null, replica, settings.name(), null, clock);
    for (int i = parentsFirst.size() - 1; i >= 0; i--) {
      copier.emptyUnlessCopied(parentsFirst.get(i));
    }
  }

  private List<TableName> tablesToCopy(Connection primary) throws SQLException {
    PrimaryStore store = new PrimaryStore(primary, settings.primary().toString());
    if (!store.installed()) {
      throw new ConfigException(
          "Change capture is not installed on "
              + settings.primary()
              + "; run 'replicador install' first, or changes made during the copy are lost");
    }
    List<TableName> captured = store.capturedTables();
    primary.commit();
    if (settings.tables().isEmpty()) {
      if (captured.isEmpty()) {
        throw new ConfigException(
            "No table is captured on "
                + settings.primary()
                + "; run 'replicador install --tables ...' first");
      }
      return captured;
    }
    for (TableName t : settings.tables()) {
      if (!captured.contains(t)) {
        throw new ConfigException(
            "Table "
                + t
                + " is not captured on the primary; run 'replicador install --tables "
                + t
                + "' first, or its changes during and after the copy are lost");
      }
    }
    return settings.tables();
  }

  /**
   * Whether a snapshot of a replica whose queue exists starts it over: when it copies every
   * captured table and is not the rerun of an interrupted snapshot (some of them copied, others
   * not). The replica's queue is then emptied, since the copy replaces what waited in it; this is
   * how a replica that lost messages, or stopped at a change it cannot take, is made whole again. A
   * listener still consuming the queue is refused: it would apply what it holds on top.
   */
  private boolean startsOver(QueueInspector broker, Connection replica, List<TableName> names)
      throws SQLException, IOException, TimeoutException {
    if (!settings.tables().isEmpty()) {
      return false; // other tables may need the changes waiting in the queue
    }
    Set<TableName> done = new ReplicaStore(replica, settings.name()).copiedTables();
    replica.commit();
    long copied = names.stream().filter(done::contains).count();
    if (copied > 0 && copied < names.size()) {
      return false; // an interrupted snapshot: carry on with the tables not copied yet
    }
    String queue = Topology.queueName(settings.name());
    int consumers = broker.inspect(queue).map(QueueInspector.QueueCounts::consumers).orElse(0);
    if (consumers > 0) {
      throw new ConfigException(
          "Replica "
              + settings.name()
              + ": a listener is consuming queue "
              + queue
              + "; stop it"
              + " before snapshotting the whole replica (the copy replaces what waits in the"
              + " queue), then run the snapshot again");
    }
    broker.purge(queue);
    return true;
  }

  /**
   * A new queue means a new stream: forget the copies and positions of an earlier life, and record
   * as applied every position the publisher had handed out by now. Those transactions committed
   * before the snapshot that follows, so the copy has them, while every later position is published
   * after the queue existed and waits in it. (The listener skips queued messages up to that
   * position, and {@code verify --wait-caught-up} has a position to compare even when nothing
   * changes after the snapshot.) An existing queue keeps its positions: its waiting changes may be
   * needed by tables that this run does not copy.
   */
  private void resetBookkeeping(Connection primary, Connection replica) throws SQLException {
    PrimaryStore store = new PrimaryStore(primary, settings.primary().toString());
    String source = store.sourceId();
    long handedOut = store.lastPosition();
    primary.commit();
    new ReplicaStore(replica, settings.name()).startOver(source, handedOut);
    replica.commit();
  }

  private Result copyAll(
      Connection primary,
      List<TableDefinition> tables,
      List<TableName> created,
      PrintStream progressOut,
      boolean terminal,
      boolean replicaRole,
      boolean inOrder)
      throws SQLException, InterruptedException, IOException {
    // The coordinator holds the exported snapshot open until every worker has finished.
    try (Statement st = primary.createStatement()) {
      st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    }
    String snapshotId;
    Copy copy;
    try (Statement st = primary.createStatement();
        ResultSet rs =
            st.executeQuery("SELECT pg_export_snapshot(), pg_current_snapshot()::text")) {
      rs.next();
      snapshotId = rs.getString(1);
      // which primary transactions the copy holds: the listener skips their changes
      copy =
          new Copy(
              new PrimaryStore(primary, settings.primary().toString()).sourceId(), rs.getString(2));
    }
    List<TableDefinition> bySize = new ArrayList<>(tables);
    List<TableProgress> progress = new ArrayList<>();
    Map<TableName, TableProgress> progressOf = new HashMap<>();
    Map<TableName, Long> estimates = estimates(primary, tables);
    if (!inOrder) {
      bySize.sort(Comparator.comparing((TableDefinition t) -> -estimates.get(t.name())));
    }
    for (TableDefinition t : tables) {
      TableProgress p = new TableProgress(t.name(), estimates.get(t.name()));
      progress.add(p);
      progressOf.put(t.name(), p);
    }
    tableProgress = List.copyOf(progress);
    ConcurrentLinkedQueue<TableDefinition> work = new ConcurrentLinkedQueue<>(bySize);
    int workers = inOrder ? 1 : Math.min(settings.jobs(), Math.max(1, tables.size()));
    AtomicInteger workerIds = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            workers,
            r -> {
              Thread t = new Thread(r, "replicador-snapshot-" + workerIds.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    try (ProgressReporter reporter = new ProgressReporter(progress, progressOut, terminal, clock)) {
      List<Future<Void>> futures = new ArrayList<>();
      for (int i = 0; i < workers; i++) {
        futures.add(pool.submit(() -> worker(snapshotId, copy, work, progressOf, replicaRole)));
      }
      for (Future<Void> f : futures) {
        try {
          f.get();
        } catch (ExecutionException e) {
          work.clear(); // the other workers stop after their current table
          Throwable cause = e.getCause();
          if (cause instanceof SQLException s) {
            throw s;
          }
          if (cause instanceof IOException io) {
            throw io;
          }
          if (cause instanceof RuntimeException r) {
            throw r;
          }
          throw new IllegalStateException(cause);
        }
      }
    } finally {
      pool.shutdownNow();
      primary.commit();
    }
    int copied = 0;
    int skipped = 0;
    long rows = 0;
    for (TableProgress p : progress) {
      if (p.state() == TableProgress.State.SKIPPED) {
        skipped++;
      } else {
        copied++;
        rows += p.rows();
      }
    }
    return new Result(created, copied, skipped, rows);
  }

  private Void worker(
      String snapshotId,
      Copy copy,
      ConcurrentLinkedQueue<TableDefinition> work,
      Map<TableName, TableProgress> progressOf,
      boolean replicaRole)
      throws SQLException, IOException {
    try (Connection primary = settings.primary().connect("replicador-snapshot-copy");
        Connection replica = settings.replica().connect("replicador-snapshot-copy")) {
      SessionSettings.apply(primary);
      // The replica keeps its own search_path, as the listener does: its triggers, which fire
      // here without session_replication_role, may name tables without their schema.
      SessionSettings.applyKeepingSearchPath(replica);
      primary.setAutoCommit(false);
      replica.setAutoCommit(false);
      try (Statement st = primary.createStatement()) {
        st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        try (PreparedStatement ps =
            primary.prepareStatement(
                "SET TRANSACTION SNAPSHOT '" + snapshotId.replace("'", "''") + "'")) {
          ps.execute();
        }
      }
      if (replicaRole) {
        try (Statement st = replica.createStatement()) {
          // Like the listener: the primary already checked foreign keys, and tables arrive in
          // any order.
          st.execute("SET session_replication_role = replica");
        }
      }
      replica.commit();
      TableCopier copier = new TableCopier(primary, replica, settings.name(), copy, clock);
      TableDefinition next;
      while ((next = work.poll()) != null) {
        copier.copy(next, progressOf.get(next.name()));
      }
      primary.commit();
    }
    return null;
  }

  /** The primary's source id and the snapshot (pg_current_snapshot) the tables are copied in. */
  record Copy(String source, String primarySnapshot) {}

  private static Map<TableName, Long> estimates(Connection primary, List<TableDefinition> tables)
      throws SQLException {
    Map<TableName, Long> out = new HashMap<>();
    try (PreparedStatement ps =
        primary.prepareStatement(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::int8 FROM pg_class c"
                + " WHERE c.oid = ?::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits"
                + " WHERE inhparent = ?::regclass)")) {
      for (TableDefinition t : tables) {
        ps.setString(1, t.name().quoted());
        ps.setString(2, t.name().quoted());
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          out.put(t.name(), rs.getLong(1));
        }
      }
    }
    return out;
  }
}
