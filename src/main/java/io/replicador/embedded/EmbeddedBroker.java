package io.replicador.embedded;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.qpid.server.SystemLauncher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An AMQP 0-9-1 broker inside this JVM (Apache Qpid Broker-J with an in-memory store), listening on
 * a TCP port of 127.0.0.1 with the user guest/guest, for when no RabbitMQ is at hand: the demo and
 * the tests on a bare machine. Other processes can connect to it too.
 *
 * <p>It speaks the AMQP subset Replicador uses (topic exchanges, durable queues, bindings,
 * publisher confirms, mandatory returns, manual acks, qos) but has none of RabbitMQ's queue
 * extensions: quorum queues, single active consumer and dead-lettering policies are RabbitMQ's.
 * Callers declare classic queues without those arguments here (see {@code
 * io.replicador.broker.QueueType}). Nothing survives {@link #close}. Thread-safe.
 */
public final class EmbeddedBroker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedBroker.class);

  private final SystemLauncher launcher;
  private final Path workDir;
  private final int port;

  private EmbeddedBroker(SystemLauncher launcher, Path workDir, int port) {
    this.launcher = launcher;
    this.workDir = workDir;
    this.port = port;
  }

  /** Starts a broker on a free port of 127.0.0.1; blocks until it accepts connections. */
  public static EmbeddedBroker start() {
    Path workDir = null;
    boolean started = false;
    try {
      workDir = Files.createTempDirectory("replicador-broker-");
      int port = freePort();
      Path config = workDir.resolve("broker.json");
      Files.writeString(config, initialConfiguration(port), StandardCharsets.UTF_8);
      Map<String, Object> attributes = new HashMap<>();
      attributes.put("type", "Memory");
      attributes.put("initialConfigurationLocation", config.toUri().toString());
      attributes.put("startupLoggedToSystemOut", false);
      Map<String, String> context = new HashMap<>();
      context.put("qpid.work_dir", workDir.toString());
      context.put("QPID_WORK", workDir.toString());
      attributes.put("context", context);
      SystemLauncher launcher = new SystemLauncher();
      launcher.startup(attributes);
      log.info("Embedded AMQP broker listening on 127.0.0.1:{}", port);
      started = true;
      return new EmbeddedBroker(launcher, workDir, port);
    } catch (Exception e) {
      throw new IllegalStateException(
          "Cannot start the embedded AMQP broker: " + e.getMessage(), e);
    } finally {
      if (!started && workDir != null) {
        Files2.deleteTree(workDir);
      }
    }
  }

  /** The broker's port on 127.0.0.1. */
  public int port() {
    return port;
  }

  /** An AMQP URI for this broker, with its user and password. */
  public String uri() {
    return "amqp://guest:guest@127.0.0.1:" + port + "/";
  }

  /** Stops the broker (connections are closed, messages dropped) and deletes its files. */
  @Override
  public void close() {
    try {
      launcher.shutdown();
    } finally {
      Files2.deleteTree(workDir);
    }
  }

  private static String initialConfiguration(int port) {
    // Only what an AMQP 0-9-1 client needs: one plain user, one port on loopback, one in-memory
    // virtual host that every virtual host name reaches (the client asks for "/"). PLAIN without
    // TLS is allowed: the port listens on loopback only, and RabbitMQ's client offers only PLAIN.
    return """
        {
          "name": "replicador-embedded",
          "modelVersion": "8.0",
          "authenticationproviders": [ {
            "name": "plain", "type": "Plain", "secureOnlyMechanisms": [],
            "users": [ { "name": "guest", "type": "managed", "password": "guest" } ]
          } ],
          "ports": [ {
            "name": "AMQP", "port": %d, "bindingAddress": "127.0.0.1",
            "authenticationProvider": "plain",
            "protocols": [ "AMQP_0_9_1", "AMQP_0_9", "AMQP_0_8" ],
            "virtualhostaliases": [
              { "name": "nameAlias", "type": "nameAlias" },
              { "name": "defaultAlias", "type": "defaultAlias" }
            ]
          } ],
          "virtualhostnodes": [ {
            "name": "default", "type": "Memory", "defaultVirtualHostNode": "true",
            "virtualHostInitialConfiguration": "{ \\"type\\": \\"Memory\\" }"
          } ]
        }
        """
        .formatted(port);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
