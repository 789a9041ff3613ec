package io.replicador.verify;

import io.replicador.change.TableName;
import io.replicador.schema.ColumnDefinition;
import io.replicador.schema.DefinitionReader;
import io.replicador.schema.SessionSettings;
import io.replicador.schema.TableDefinition;
import io.replicador.store.PrimaryStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compares primary and replica table by table (see {@link TableVerifier}). Each side of a table is
 * read in one REPEATABLE READ transaction, so a table is compared as of one moment per side. Opens
 * and closes its own connections; blocks; runs one helper thread.
 */
public final class Verifier {
  private static final Logger log = LoggerFactory.getLogger(Verifier.class);
  private static final long MIN_CHUNK_ROWS = 10_000;
  private static final long MAX_RANGES = 2_000;

  private final VerifySettings settings;
  private final Clock clock;

  public Verifier(VerifySettings settings, Clock clock) {
    this.settings = settings;
    this.clock = clock;
  }

  public List<TableResult> run() throws SQLException, InterruptedException, VerifyException {
    ExecutorService replicaSide =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "replicador-verify-replica");
              t.setDaemon(true);
              return t;
            });
    try (Connection primary = settings.primary().connect("replicador-verify");
        Connection replica = settings.replica().connect("replicador-verify")) {
      SessionSettings.apply(primary);
      SessionSettings.apply(replica);
      List<TableName> tables = settings.tables().isEmpty() ? captured(primary) : settings.tables();
      if (settings.waitCaughtUp() != null) {
        new CatchUpWaiter(primary, replica, settings.consumer(), clock)
            .await(settings.waitCaughtUp());
      }
      List<TableResult> results = new ArrayList<>();
      for (TableName table : tables) {
        results.add(verifyTable(primary, replica, replicaSide, table));
      }
      return results;
    } finally {
      replicaSide.shutdownNow();
    }
  }

  private TableResult verifyTable(
      Connection primary, Connection replica, ExecutorService replicaSide, TableName table)
      throws SQLException, InterruptedException, VerifyException {
    TableDefinition p =
        new DefinitionReader(primary)
            .table(table)
            .orElseThrow(
                () -> new VerifyException("Table " + table + " does not exist on the primary"));
    if (p.key().isEmpty()) {
      throw new VerifyException(
          "Table "
              + table
              + " has no primary key on the primary; verify"
              + " compares by key, add one");
    }
    Optional<TableDefinition> r = new DefinitionReader(replica).table(table);
    if (r.isEmpty()) {
      long rows = count(primary, table);
      return new TableResult(table, rows, -1, List.of(), false);
    }
    List<String> replicaColumns = r.get().columns().stream().map(ColumnDefinition::name).toList();
    Map<String, String> types = new HashMap<>();
    List<String> columns = new ArrayList<>();
    for (ColumnDefinition c : p.copiedColumns()) {
      if (!replicaColumns.contains(c.name())) {
        throw new VerifyException(
            "Replica table "
                + table
                + " has no column \""
                + c.name()
                + "\"; add it (or run snapshot) so the tables can be compared");
      }
      columns.add(c.name());
      types.put(c.name(), c.type());
    }
    List<String> keyTypes = p.key().stream().map(types::get).toList();
    VerifyQueries queries = new VerifyQueries(table, columns, p.key(), keyTypes);
    long estimate = estimate(primary, table);
    long chunk = Math.max(MIN_CHUNK_ROWS, estimate / MAX_RANGES + 1);
    begin(primary);
    begin(replica);
    try {
      long started = System.nanoTime();
      TableResult result =
          new TableVerifier(primary, replica, replicaSide, queries, settings.maxRows())
              .verify(chunk);
      log.debug(
          "Verified {} ({} rows) in {} ms",
          table,
          result.primaryRows(),
          (System.nanoTime() - started) / 1_000_000);
      return result;
    } finally {
      primary.commit();
      replica.commit();
      primary.setAutoCommit(true);
      replica.setAutoCommit(true);
    }
  }

  private static void begin(Connection c) throws SQLException {
    c.setAutoCommit(false);
    try (Statement st = c.createStatement()) {
      st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    }
  }

  private List<TableName> captured(Connection primary) throws SQLException, VerifyException {
    PrimaryStore store = new PrimaryStore(primary, settings.primary().toString());
    if (!store.installed()) {
      throw new VerifyException(
          "Change capture is not installed on "
              + settings.primary()
              + "; name the tables to compare with --tables");
    }
    List<TableName> tables = store.capturedTables();
    if (tables.isEmpty()) {
      throw new VerifyException(
          "No table is captured on "
              + settings.primary()
              + "; name the tables to compare with --tables");
    }
    return tables;
  }

  private static long count(Connection c, TableName table) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table.quoted())) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static long estimate(Connection c, TableName table) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::int8 FROM pg_class"
                + " WHERE oid = ?::regclass OR oid IN (SELECT inhrelid FROM pg_inherits"
                + " WHERE inhparent = ?::regclass)")) {
      ps.setString(1, table.quoted());
      ps.setString(2, table.quoted());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
