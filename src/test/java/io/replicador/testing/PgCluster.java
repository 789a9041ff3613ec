package io.replicador.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throw-away PostgreSQL cluster for tests: initdb in a temporary directory, started on a free
 * port, so a test can stop, kill and restart it. PostgreSQL refuses to run as root, so under root
 * the server runs as the unprivileged user {@code nobody} (via runuser).
 */
public final class PgCluster implements AutoCloseable {
  private final Path dir;
  private final Path data;
  private final int port;
  private final Path bin;

  private PgCluster(Path dir, int port, Path bin) {
    this.dir = dir;
    this.data = dir.resolve("data");
    this.port = port;
    this.bin = bin;
  }

  public static PgCluster start(String name) {
    return start(name, java.util.Map.of());
  }

  /**
   * Starts a cluster with extra server settings, which win over the test defaults (for example
   * {@code fsync=on} for a benchmark that must pay for durable commits).
   */
  public static PgCluster start(String name, java.util.Map<String, String> settings) {
    try {
      Path bin = findBin();
      Path dir = Files.createTempDirectory("replicador-pg-" + name + "-");
      PgCluster c = new PgCluster(dir, freePort(), bin);
      if (isRoot()) {
        run(List.of("chown", "-R", "nobody", dir.toString()));
        run(List.of("chmod", "755", dir.toString()));
      }
      c.runAsOwner(
          List.of(
              bin.resolve("initdb").toString(),
              "-D", c.data.toString(),
              "-U", "postgres",
              "-A", "trust",
              "-E", "UTF8",
              "--locale=C.UTF-8",
              "--no-sync"));
      Files.writeString(
          c.data.resolve("postgresql.auto.conf"),
          String.join(
              "\n",
              "listen_addresses = '127.0.0.1'",
              "port = " + c.port,
              "unix_socket_directories = '" + dir + "'",
              "fsync = off",
              "synchronous_commit = off",
              "full_page_writes = off",
              "max_connections = 100",
              "shared_buffers = 64MB",
              "wal_level = logical",
              "max_wal_senders = 10",
              "max_replication_slots = 10",
              "")
              + "\n"
              + settings.entrySet().stream()
                  .map(e -> e.getKey() + " = '" + e.getValue() + "'\n")
                  .collect(java.util.stream.Collectors.joining()),
          java.nio.file.StandardOpenOption.APPEND);
      c.restart();
      return c;
    } catch (IOException e) {
      throw new IllegalStateException("Cannot start a PostgreSQL cluster for tests", e);
    }
  }

  /** Starts the server (after {@link #stop} or {@link #kill}); waits until it accepts. */
  public void restart() {
    runAsOwner(
        List.of(
            bin.resolve("pg_ctl").toString(),
            "-D", data.toString(),
            "-l", dir.resolve("server.log").toString(),
            "-w", "-t", "60",
            "start"));
  }

  public void stop() {
    runAsOwner(
        List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w", "stop"));
  }

  /**
   * SIGKILL to the postmaster, as a crash would; returns once its server processes are gone, so
   * {@link #restart} can follow at once.
   */
  public void kill() {
    try {
      long pid = Long.parseLong(Files.readAllLines(data.resolve("postmaster.pid")).get(0).strip());
      List<ProcessHandle> processes = new ArrayList<>();
      ProcessHandle.of(pid).ifPresent(processes::add);
      ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(processes::add));
      run(List.of("kill", "-9", String.valueOf(pid)));
      for (ProcessHandle p : processes) {
        p.onExit().get(60, TimeUnit.SECONDS); // children notice the postmaster's death and exit
      }
    } catch (IOException | java.util.concurrent.ExecutionException
        | java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("Cannot kill the cluster in " + data, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The directory of the server binaries (initdb, pg_ctl, pgbench). */
  public Path bin() {
    return bin;
  }

  public int port() {
    return port;
  }

  /** A libpq URI for a database of this cluster. */
  public String uri(String database) {
    return "postgresql://postgres@127.0.0.1:" + port + "/" + database;
  }

  public String jdbcUrl(String database) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres";
  }

  public Connection connect(String database) throws SQLException {
    return DriverManager.getConnection(jdbcUrl(database));
  }

  /** Creates a database (dropping an old one of that name) and returns its name. */
  public String createDatabase(String name) {
    try (Connection c = connect("postgres");
        Statement st = c.createStatement()) {
      st.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
      st.execute("CREATE DATABASE \"" + name + "\"");
      return name;
    } catch (SQLException e) {
      throw new IllegalStateException("Cannot create database " + name, e);
    }
  }

  @Override
  public void close() {
    try {
      stop();
    } catch (RuntimeException e) {
      // already stopped or killed
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort
    }
  }

  private void runAsOwner(List<String> command) {
    List<String> full = new ArrayList<>();
    if (isRoot()) {
      full.addAll(List.of("runuser", "-u", "nobody", "--"));
    }
    full.addAll(command);
    run(full);
  }

  private static void run(List<String> command) {
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .directory(Path.of(System.getProperty("java.io.tmpdir")).toFile())
              .start();
      String out = new String(p.getInputStream().readAllBytes());
      if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("Command failed: " + command + "\n" + out);
      }
    } catch (IOException e) {
      throw new IllegalStateException("Cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted running " + command, e);
    }
  }

  static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  private static Path findBin() {
    String env = System.getenv("REPLICADOR_PG_BIN");
    if (env != null) {
      return Path.of(env);
    }
    for (String v : List.of("17", "16", "15", "14", "13")) {
      Path p = Path.of("/usr/lib/postgresql", v, "bin");
      if (Files.isExecutable(p.resolve("initdb"))) {
        return p;
      }
    }
    for (String dirName : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(dirName, "initdb"))) {
        return Path.of(dirName);
      }
    }
    throw new IllegalStateException(
        "No PostgreSQL server binaries (initdb, pg_ctl) found; install PostgreSQL 13+ or set"
            + " REPLICADOR_PG_BIN");
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
