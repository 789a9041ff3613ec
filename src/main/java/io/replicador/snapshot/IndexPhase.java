package io.replicador.snapshot;

import io.replicador.Failures;
import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import io.replicador.schema.DefinitionReader;
import io.replicador.schema.SessionSettings;
import io.replicador.schema.TableExtras;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After the data is in: gives the tables a snapshot created the primary's sequences behind column
 * defaults, secondary indexes, and unique, check and exclusion constraints, so the replica serves
 * reads as the primary does; then, when asked, its foreign keys. Building an index once over the
 * copied rows costs far less than keeping it up to date row by row during the copy. Tables are done
 * in parallel, {@code jobs} at a time, each on a replica connection of its own; foreign keys last,
 * since they need the referenced tables' keys. Tables that existed before are left as they are.
 * Blocks until done.
 */
final class IndexPhase {
  private static final Logger log = LoggerFactory.getLogger(IndexPhase.class);

  private final SnapshotSettings settings;
  private final Clock clock;

  IndexPhase(SnapshotSettings settings, Clock clock) {
    this.settings = settings;
    this.clock = clock;
  }

  /**
   * @param primary a connection prepared by {@link SessionSettings#apply}, in a transaction
   */
  void run(Connection primary, List<TableName> created, PrintStream out)
      throws SQLException, InterruptedException {
    if (created.isEmpty()) {
      return;
    }
    DefinitionReader reader = new DefinitionReader(primary);
    Map<TableName, TableExtras> extras = new LinkedHashMap<>();
    for (TableName t : created) {
      extras.put(t, reader.extras(t));
    }
    primary.commit();
    int statements = 0;
    int indexes = 0;
    List<String> foreignKeys = new ArrayList<>();
    for (TableExtras e : extras.values()) {
      statements += e.beforeForeignKeys().size();
      indexes += e.indexes().size();
      foreignKeys.addAll(e.foreignKeys());
    }
    Instant start = clock.instant();
    out.printf(
        "Creating %d index(es), the constraints and sequences of %d created table(s)%s%n",
        indexes,
        created.size(),
        settings.foreignKeys() ? ", then " + foreignKeys.size() + " foreign key(s)" : "");
    ConcurrentLinkedQueue<Map.Entry<TableName, TableExtras>> work =
        new ConcurrentLinkedQueue<>(extras.entrySet());
    int workers = Math.min(settings.jobs(), created.size());
    AtomicInteger ids = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            workers,
            r -> {
              Thread t = new Thread(r, "replicador-snapshot-index-" + ids.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    try {
      List<Future<Void>> futures = new ArrayList<>();
      for (int i = 0; i < workers; i++) {
        futures.add(
            pool.submit(
                () -> {
                  try (Connection replica =
                      settings.replica().connect("replicador-snapshot-index")) {
                    SessionSettings.apply(replica);
                    Map.Entry<TableName, TableExtras> next;
                    while ((next = work.poll()) != null) {
                      execute(replica, next.getKey(), next.getValue().beforeForeignKeys());
                    }
                  }
                  return null;
                }));
      }
      for (Future<Void> f : futures) {
        try {
          f.get();
        } catch (ExecutionException e) {
          work.clear();
          if (e.getCause() instanceof RuntimeException r) {
            throw r;
          }
          throw new IllegalStateException(e.getCause());
        }
      }
    } finally {
      pool.shutdownNow();
    }
    if (settings.foreignKeys() && !foreignKeys.isEmpty()) {
      try (Connection replica = settings.replica().connect("replicador-snapshot-index")) {
        SessionSettings.apply(replica);
        for (Map.Entry<TableName, TableExtras> e : extras.entrySet()) {
          execute(replica, e.getKey(), e.getValue().foreignKeys());
        }
      }
    }
    Duration took = Duration.between(start, clock.instant());
    out.printf(
        "Created %d statement(s) of definitions in %.1f s%n",
        statements + (settings.foreignKeys() ? foreignKeys.size() : 0), took.toMillis() / 1000.0);
    if (!settings.foreignKeys() && !foreignKeys.isEmpty()) {
      log.info(
          "Left out {} foreign key(s) of the created tables (add them with snapshot"
              + " --foreign-keys)",
          foreignKeys.size());
    }
  }

  private static void execute(Connection replica, TableName table, List<String> statements) {
    for (String sql : statements) {
      try (Statement st = replica.createStatement()) {
        st.execute(sql);
      } catch (SQLException e) {
        throw new ConfigException(
            "The copy of "
                + table
                + " is in, but the replica refused a definition of the primary's ("
                + Failures.describe(e)
                + "): "
                + sql
                + "; fix the cause (a name taken by another object?) and run snapshot again, or"
                + " create it by hand");
      }
    }
    log.info(
        "Created the indexes and constraints of {} ({} statement(s))", table, statements.size());
  }
}
