package io.replicador.embedded;

import io.replicador.change.Identifiers;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A throw-away PostgreSQL server run by this program: initdb in a new temporary directory, started
 * with pg_ctl on a free port of 127.0.0.1 with trust authentication for user {@code postgres}, so
 * the caller can stop, kill and restart it. {@link #close} stops it and deletes its files.
 *
 * <p>PostgreSQL refuses to run as root, so under root the server runs as the unprivileged user
 * {@code nobody} (through runuser), and its directory belongs to that user. The binaries come from
 * {@link PostgresBinaries}. Methods block until pg_ctl is done; not for concurrent use of one
 * instance from several threads.
 */
public final class LocalPostgres implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LocalPostgres.class);
  private static final String RUN_AS = "nobody";

  private final Path dir;
  private final Path data;
  private final int port;
  private final Path bin;

  private LocalPostgres(Path dir, int port, Path bin) {
    this.dir = dir;
    this.data = dir.resolve("data");
    this.port = port;
    this.bin = bin;
  }

  /** Creates and starts a server with the binaries {@link PostgresBinaries#locate} finds. */
  public static LocalPostgres start(String name) {
    return start(name, PostgresBinaries.locate(), Map.of());
  }

  /** Creates and starts a server from the binaries in {@code bin}; waits until it accepts. */
  public static LocalPostgres start(String name, Path bin) {
    return start(name, bin, Map.of());
  }

  /**
   * Creates and starts a server with extra server settings, which win over the defaults here (for
   * example {@code fsync=on} for a benchmark that must pay for durable commits).
   */
  public static LocalPostgres start(String name, Path bin, Map<String, String> settings) {
    Path dir = null;
    try {
      dir = Files.createTempDirectory("replicador-pg-" + name + "-");
      LocalPostgres pg = new LocalPostgres(dir, freePort(), bin);
      if (isRoot()) {
        run(List.of("chown", "-R", RUN_AS, dir.toString()));
        run(List.of("chmod", "755", dir.toString()));
      }
      pg.runAsOwner(
          List.of(
              bin.resolve("initdb").toString(),
              "-D",
              pg.data.toString(),
              "-U",
              "postgres",
              "-A",
              "trust",
              "-E",
              "UTF8",
              "--locale=C.UTF-8",
              "--no-sync"));
      Files.writeString(
          pg.data.resolve("postgresql.auto.conf"),
          String.join(
                  "\n",
                  "listen_addresses = '127.0.0.1'",
                  "port = " + pg.port,
                  "unix_socket_directories = '" + dir + "'",
                  // a throw-away server: durability buys nothing, speed helps small machines
                  "fsync = off",
                  "synchronous_commit = off",
                  "full_page_writes = off",
                  "max_connections = 100",
                  "shared_buffers = 64MB",
                  "wal_level = logical",
                  "max_wal_senders = 40",
                  "max_replication_slots = 64",
                  "")
              + "\n"
              + settings.entrySet().stream()
                  .map(e -> e.getKey() + " = '" + e.getValue().replace("'", "''") + "'\n")
                  .collect(Collectors.joining()),
          StandardOpenOption.APPEND);
      pg.restart();
      log.debug("PostgreSQL '{}' running on port {} from {}", name, pg.port, bin);
      return pg;
    } catch (IOException | RuntimeException e) {
      if (dir != null) {
        Files2.deleteTree(dir);
      }
      throw new IllegalStateException(
          "Cannot start a local PostgreSQL server '"
              + name
              + "' from "
              + bin
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /** Starts the server (after {@link #stop} or {@link #kill}); waits until it accepts. */
  public void restart() {
    runAsOwner(
        List.of(
            bin.resolve("pg_ctl").toString(),
            "-D",
            data.toString(),
            "-l",
            dir.resolve("server.log").toString(),
            "-w",
            "-t",
            "60",
            "start"));
  }

  /** Stops the server (fast shutdown: sessions are ended); waits until it is down. */
  public void stop() {
    runAsOwner(
        List.of(
            bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w", "stop"));
  }

  /** The running server's postmaster process id. */
  public long postmasterPid() throws IOException {
    return Long.parseLong(Files.readAllLines(data.resolve("postmaster.pid")).get(0).strip());
  }

  /**
   * SIGKILL to the postmaster, as a crash would; returns once its server processes are gone, so
   * {@link #restart} can follow at once.
   */
  public void kill() {
    try {
      long pid = postmasterPid();
      List<ProcessHandle> processes = new ArrayList<>();
      ProcessHandle.of(pid).ifPresent(processes::add);
      ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(processes::add));
      run(List.of("kill", "-9", String.valueOf(pid)));
      for (ProcessHandle p : processes) {
        p.onExit().get(60, TimeUnit.SECONDS); // children notice the postmaster's death and exit
      }
    } catch (IOException | ExecutionException | TimeoutException e) {
      throw new IllegalStateException("Cannot kill the server in " + data, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted killing the server in " + data, e);
    }
  }

  public int port() {
    return port;
  }

  /** The directory of the binaries this server runs. */
  public Path binaries() {
    return bin;
  }

  /** A libpq URI for a database of this server (user postgres, no password). */
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
      String quoted = Identifiers.quote(name);
      st.execute("DROP DATABASE IF EXISTS " + quoted + " WITH (FORCE)");
      st.execute("CREATE DATABASE " + quoted);
      return name;
    } catch (SQLException e) {
      throw new IllegalStateException("Cannot create database " + name + ": " + e.getMessage(), e);
    }
  }

  /** Stops the server (immediately: nothing in it is worth a checkpoint) and deletes its files. */
  @Override
  public void close() {
    if (Files.exists(data.resolve("postmaster.pid"))) {
      try {
        runAsOwner(
            List.of(
                bin.resolve("pg_ctl").toString(),
                "-D",
                data.toString(),
                "-m",
                "immediate",
                "-w",
                "stop"));
      } catch (RuntimeException e) {
        // already stopped or killed: a stale pid file
      }
    }
    Files2.deleteTree(dir);
  }

  private void runAsOwner(List<String> command) {
    List<String> full = new ArrayList<>();
    if (isRoot()) {
      full.addAll(List.of("runuser", "-u", RUN_AS, "--"));
    }
    full.addAll(command);
    try {
      run(full);
    } catch (IllegalStateException e) {
      throw new IllegalStateException(e.getMessage() + serverLogTail(), e);
    }
  }

  private String serverLogTail() {
    Path logFile = dir.resolve("server.log");
    try {
      List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
      return "\nserver log "
          + logFile
          + ":\n"
          + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException e) {
      return "";
    }
  }

  private static void run(List<String> command) {
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .directory(Path.of(System.getProperty("java.io.tmpdir")).toFile())
              .start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException(
            "Command failed: " + String.join(" ", command) + "\n" + out);
      }
    } catch (IOException e) {
      String hint =
          command.get(0).equals("runuser")
              ? " (PostgreSQL refuses to run as root, so it runs as '"
                  + RUN_AS
                  + "' through"
                  + " runuser: install util-linux, or run as a normal user)"
              : "";
      throw new IllegalStateException(
          "Cannot run " + command.get(0) + ": " + e.getMessage() + hint, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted running " + command.get(0), e);
    }
  }

  /** True when this JVM runs as root, so servers run as {@code nobody}. */
  public static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
