package io.replicador.testing;

import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A RabbitMQ node of a test's own, beside the machine's: started from the installed {@code
 * rabbitmq-server} with its own node name, ports, data and log directories, config file and Erlang
 * cookie, all in a temporary directory that {@link #close} (or, failing that, the JVM's exit)
 * deletes after stopping the node. Optionally with a TLS listener ({@link Options#tls}). Nodes
 * started with the same {@link Options#cookie} can be clustered (e.g. with {@link #ctl}).
 *
 * <p>Where rabbitmq-server is not installed, {@link #unavailable} says so, for the test to skip.
 * Runs as the current user (root included: the script that changes to the rabbitmq user is not
 * used).
 */
public final class RabbitNode implements AutoCloseable {
  private static final Path SERVER = Path.of("/usr/lib/rabbitmq/bin/rabbitmq-server");
  private static final Path CTL = Path.of("/usr/lib/rabbitmq/bin/rabbitmqctl");

  private final String nodeName;
  private final Path dir;
  private final int amqpPort;
  private final int tlsPort;
  private final Map<String, String> environment;
  private final Thread cleanup;
  private volatile Process process;

  /**
   * How to start a node.
   *
   * @param tls the server certificate for a TLS listener (its {@code ca} checks client
   *     certificates), or null for none
   * @param requireClientCertificate whether the TLS listener refuses clients without a certificate
   *     its CA signed
   * @param cookie the Erlang cookie; nodes of one cluster share it
   * @param extraConfig more rabbitmq.conf lines
   */
  public record Options(
      TestCertificates.Issued tls,
      boolean requireClientCertificate,
      String cookie,
      List<String> extraConfig) {
    public static Options plain() {
      return new Options(null, false, UUID.randomUUID().toString().replace("-", ""), List.of());
    }

    public Options withTls(TestCertificates.Issued server, boolean requireClientCertificate) {
      return new Options(server, requireClientCertificate, cookie, extraConfig);
    }

    public Options withCookie(String cookie) {
      return new Options(tls, requireClientCertificate, cookie, extraConfig);
    }

    public Options withConfig(String... lines) {
      List<String> all = new ArrayList<>(extraConfig);
      all.addAll(List.of(lines));
      return new Options(tls, requireClientCertificate, cookie, all);
    }
  }

  private RabbitNode(
      String nodeName, Path dir, int amqpPort, int tlsPort, Map<String, String> environment) {
    this.nodeName = nodeName;
    this.dir = dir;
    this.amqpPort = amqpPort;
    this.tlsPort = tlsPort;
    this.environment = environment;
    this.cleanup = new Thread(() -> stop(this.process, dir), "rabbit-node-cleanup-" + nodeName);
  }

  /** Null when a node can be started here, else why not (for the test's skip message). */
  public static String unavailable() {
    if (!Files.isExecutable(SERVER)) {
      return "rabbitmq-server is not installed (" + SERVER + " missing)";
    }
    return TestCertificates.unavailable();
  }

  /** A fresh directory for a node's (or its certificates') files. */
  public static Path newDirectory(String name) {
    try {
      return Files.createTempDirectory("replicador-rabbit-" + name + "-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Starts a node named after {@code name} and waits until it accepts AMQP connections (up to two
   * minutes); throws with the end of its log when it does not.
   */
  public static RabbitNode start(String name, Options options) {
    Path dir = newDirectory(name);
    String nodeName = "replicador-" + name + "-" + ProcessHandle.current().pid() + "@localhost";
    try {
      int amqpPort = freePort();
      int tlsPort = options.tls() == null ? -1 : freePort();
      int distPort = freePort();
      Path home = Files.createDirectories(dir.resolve("home"));
      Path cookie = home.resolve(".erlang.cookie");
      Files.writeString(cookie, options.cookie());
      Files.setPosixFilePermissions(cookie, PosixFilePermissions.fromString("r--------"));
      List<String> conf = new ArrayList<>();
      conf.add("listeners.tcp.default = 127.0.0.1:" + amqpPort);
      conf.add("loopback_users = none");
      if (options.tls() != null) {
        conf.add("listeners.ssl.default = " + tlsPort);
        conf.add("ssl_options.cacertfile = " + options.tls().ca());
        conf.add("ssl_options.certfile = " + options.tls().cert());
        conf.add("ssl_options.keyfile = " + options.tls().key());
        conf.add(
            "ssl_options.verify = "
                + (options.requireClientCertificate() ? "verify_peer" : "verify_none"));
        conf.add("ssl_options.fail_if_no_peer_cert = " + options.requireClientCertificate());
      }
      conf.addAll(options.extraConfig());
      Path confFile = dir.resolve("rabbitmq.conf");
      Files.write(confFile, conf, StandardCharsets.UTF_8);
      Path envFile = dir.resolve("rabbitmq-env.conf");
      Files.writeString(envFile, "");
      Path plugins = dir.resolve("enabled_plugins");
      Files.writeString(plugins, "[].\n");
      Map<String, String> env =
          Map.ofEntries(
              Map.entry("HOME", home.toString()),
              Map.entry("RABBITMQ_NODENAME", nodeName),
              Map.entry("RABBITMQ_NODE_PORT", Integer.toString(amqpPort)),
              Map.entry("RABBITMQ_DIST_PORT", Integer.toString(distPort)),
              Map.entry("RABBITMQ_CONF_ENV_FILE", envFile.toString()),
              Map.entry("RABBITMQ_CONFIG_FILE", confFile.toString()),
              Map.entry("RABBITMQ_ADVANCED_CONFIG_FILE", dir.resolve("advanced.config").toString()),
              Map.entry("RABBITMQ_ENABLED_PLUGINS_FILE", plugins.toString()),
              Map.entry("RABBITMQ_MNESIA_BASE", dir.resolve("mnesia").toString()),
              Map.entry("RABBITMQ_LOG_BASE", dir.resolve("log").toString()),
              Map.entry("RABBITMQ_LOGS", dir.resolve("log").resolve("node.log").toString()),
              Map.entry("RABBITMQ_PID_FILE", dir.resolve("node.pid").toString()));
      RabbitNode node = new RabbitNode(nodeName, dir, amqpPort, tlsPort, env);
      Runtime.getRuntime().addShutdownHook(node.cleanup);
      node.process = node.launch();
      node.awaitStarted(Duration.ofMinutes(2));
      return node;
    } catch (IOException e) {
      deleteTree(dir);
      throw new UncheckedIOException("Cannot start RabbitMQ node " + nodeName, e);
    }
  }

  private Process launch() throws IOException {
    ProcessBuilder pb =
        new ProcessBuilder(SERVER.toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("stdout.log").toFile()));
    pb.environment().putAll(environment);
    return pb.start();
  }

  /**
   * SIGKILL to the node's Erlang VM and its script, as a crash of the machine would: nothing is
   * flushed, no peer is told. Its files stay, for {@link #restart}.
   */
  public void kill() {
    for (ProcessHandle h : process.descendants().toList()) {
      if (!h.info().command().orElse("").endsWith("epmd")) {
        h.destroyForcibly();
      }
    }
    process.destroyForcibly();
    try {
      process.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Whether the node's script still runs. */
  public boolean isAlive() {
    return process.isAlive();
  }

  /** Starts the node again on its own files (after {@link #kill}) and waits until it serves. */
  public void restart() {
    try {
      process = launch();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot restart RabbitMQ node " + nodeName, e);
    }
    awaitStarted(Duration.ofMinutes(2));
  }

  private void awaitStarted(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        String log = logTail();
        close();
        throw new IllegalStateException("RabbitMQ node " + nodeName + " exited at start:\n" + log);
      }
      try {
        ConnectionFactory f = new ConnectionFactory();
        f.setHost("127.0.0.1");
        f.setPort(amqpPort);
        f.setConnectionTimeout(2000);
        f.newConnection("replicador-test-probe").close();
        return;
      } catch (IOException | java.util.concurrent.TimeoutException e) {
        last = e;
      }
      try {
        // a node takes seconds to boot; probing more often only adds load
        process.waitFor(250, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        close();
        throw new IllegalStateException("Interrupted while RabbitMQ started", e);
      }
    }
    String log = logTail();
    close();
    throw new IllegalStateException(
        "RabbitMQ node "
            + nodeName
            + " did not accept connections in time ("
            + last
            + "):\n"
            + log);
  }

  private String logTail() {
    StringBuilder sb = new StringBuilder();
    for (Path p : List.of(dir.resolve("stdout.log"), dir.resolve("log").resolve("node.log"))) {
      try {
        List<String> lines = Files.readAllLines(p, StandardCharsets.UTF_8);
        sb.append("== ").append(p.getFileName()).append('\n');
        lines
            .subList(Math.max(0, lines.size() - 30), lines.size())
            .forEach(l -> sb.append(l).append('\n'));
      } catch (IOException e) {
        sb.append("(no ").append(p.getFileName()).append(")\n");
      }
    }
    return sb.toString();
  }

  /** The node's Erlang name, e.g. {@code replicador-tls-1234@localhost}. */
  public String nodeName() {
    return nodeName;
  }

  /** The plain AMQP port (127.0.0.1). */
  public int amqpPort() {
    return amqpPort;
  }

  /** The TLS port (all interfaces), or -1 without TLS. */
  public int tlsPort() {
    return tlsPort;
  }

  public String amqpUri() {
    return "amqp://guest:guest@127.0.0.1:" + amqpPort + "/";
  }

  /** An amqps URI of this node's TLS listener, by {@code host} (e.g. localhost or 127.0.0.1). */
  public String amqpsUri(String host) {
    return "amqps://guest:guest@" + host + ":" + tlsPort + "/";
  }

  /**
   * Runs rabbitmqctl against this node (e.g. join_cluster); returns its output, throws on error.
   */
  public String ctl(String... args) {
    List<String> command = new ArrayList<>(List.of(CTL.toString(), "-n", nodeName));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().putAll(environment);
    try {
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(2, TimeUnit.MINUTES) || p.exitValue() != 0) {
        throw new IllegalStateException("rabbitmqctl " + String.join(" ", args) + ":\n" + out);
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted", e);
    }
  }

  /** Stops the node and deletes its files. */
  @Override
  public void close() {
    stop(process, dir);
    try {
      Runtime.getRuntime().removeShutdownHook(cleanup);
    } catch (IllegalStateException e) {
      // the JVM is exiting: the hook runs (or ran) anyway
    }
  }

  private static void stop(Process process, Path dir) {
    if (process == null) {
      deleteTree(dir);
      return;
    }
    // SIGTERM to the script, which stops the Erlang VM it started; then whatever is left
    List<ProcessHandle> descendants = process.descendants().toList();
    process.destroy();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (ProcessHandle h : descendants) {
      // only this node's own processes (epmd, shared with other nodes, was not started here)
      if (h.isAlive() && !h.info().command().orElse("").endsWith("epmd")) {
        h.destroyForcibly();
      }
    }
    deleteTree(dir);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort: a temporary directory
    }
  }
}
