package io.replicador.testing;

import io.replicador.embedded.LocalPostgres;
import io.replicador.embedded.PostgresBinaries;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;

/**
 * A throw-away PostgreSQL cluster for tests (see {@link LocalPostgres}): initdb in a temporary
 * directory, started on a free port, so a test can stop, kill and restart it. It uses an installed
 * PostgreSQL where there is one and the binaries bundled with Replicador otherwise;
 * REPLICADOR_PG_BIN=embedded forces the bundled ones. Under root the server runs as {@code nobody}.
 */
public final class PgCluster implements AutoCloseable {
  private final LocalPostgres server;

  private PgCluster(LocalPostgres server) {
    this.server = server;
  }

  public static PgCluster start(String name) {
    return start(name, Map.of());
  }

  /**
   * Starts a cluster with extra server settings, which win over the test defaults (for example
   * {@code fsync=on} for a benchmark that must pay for durable commits).
   */
  public static PgCluster start(String name, Map<String, String> settings) {
    return new PgCluster(LocalPostgres.start(name, PostgresBinaries.locate(), settings));
  }

  /** Starts the server (after {@link #stop} or {@link #kill}); waits until it accepts. */
  public void restart() {
    server.restart();
  }

  public void stop() {
    server.stop();
  }

  /**
   * SIGKILL to the postmaster, as a crash would; returns once its server processes are gone, so
   * {@link #restart} can follow at once.
   */
  public void kill() {
    server.kill();
  }

  /** The running server's postmaster process id. */
  public long postmasterPid() {
    try {
      return server.postmasterPid();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The directory of the server binaries (initdb, pg_ctl; pgbench only in an installed PostgreSQL,
   * not in the bundled one).
   */
  public Path bin() {
    return server.binaries();
  }

  public int port() {
    return server.port();
  }

  /** A libpq URI for a database of this cluster. */
  public String uri(String database) {
    return server.uri(database);
  }

  public String jdbcUrl(String database) {
    return server.jdbcUrl(database);
  }

  public Connection connect(String database) throws SQLException {
    return server.connect(database);
  }

  /** Creates a database (dropping an old one of that name) and returns its name. */
  public String createDatabase(String name) {
    return server.createDatabase(name);
  }

  @Override
  public void close() {
    server.close();
  }

  static boolean isRoot() {
    return LocalPostgres.isRoot();
  }
}
