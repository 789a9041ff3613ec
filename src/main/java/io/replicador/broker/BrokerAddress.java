package io.replicador.broker;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.replicador.config.ConfigException;
import io.replicador.config.Secrets;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where RabbitMQ is: one AMQP URI ({@code amqp://user:secret@host:5672/vhost}, or {@code amqps://}
 * for TLS, whose broker certificate and host name are verified as {@link BrokerTls} says), or the
 * URIs of several nodes of one cluster, comma-separated. {@link #connect} tries the nodes in turn,
 * each time starting after the node it used last, so a connection lost with its node is opened
 * again on another one, and processes started together spread over the nodes. Thread-safe; {@link
 * #toString} never shows a password.
 */
public final class BrokerAddress {
  private static final Logger log = LoggerFactory.getLogger(BrokerAddress.class);
  private static final int AMQPS_PORT = 5671;

  /** One node: its URI as given (normalised) and as shown. */
  private record Node(String uri, String display) {}

  private final List<Node> nodes;
  private final BrokerTls tls;

  /** The index of the node the last connection went to; where the next attempt starts after. */
  private final AtomicInteger last;

  private BrokerAddress(List<Node> nodes, BrokerTls tls, int last) {
    this.nodes = nodes;
    this.tls = tls;
    this.last = new AtomicInteger(last);
  }

  /**
   * This address with TLS set up as {@code tls} says.
   *
   * @throws ConfigException when TLS options are given for a plain {@code amqp://} address
   */
  public BrokerAddress withTls(BrokerTls tls) {
    if (tls.configured() && !tls()) {
      throw new ConfigException(
          "--amqp-ca, --amqp-cert, --amqp-key and --amqp-insecure are for TLS, but the RabbitMQ"
              + " address '"
              + this
              + "' is amqp://; write amqps://");
    }
    if (tls.insecure()) {
      log.warn(
          "--amqp-insecure: the certificate of RabbitMQ at {} is not verified; anyone on the"
              + " path can pose as the broker and read its password and every change",
          this);
    }
    return new BrokerAddress(nodes, tls, last.get());
  }

  /** Whether the address is {@code amqps://}. */
  public boolean tls() {
    return nodes.get(0).uri().startsWith("amqps:");
  }

  /** How many nodes the address names. */
  public int nodeCount() {
    return nodes.size();
  }

  /**
   * Parses one URI, or several comma-separated ones (the nodes of one cluster; a comma inside a
   * password is written {@code %2C}).
   */
  public static BrokerAddress parse(String text) {
    if (text == null || text.isBlank()) {
      throw new ConfigException(
          "No RabbitMQ address given; set --amqp or REPLICADOR_AMQP to amqp://user@host:5672/");
    }
    List<Node> nodes = new ArrayList<>();
    for (String part : text.split(",", -1)) {
      if (part.isBlank()) {
        throw new ConfigException(
            "The RabbitMQ address '"
                + Secrets.redact(text.strip())
                + "' has an empty node between its commas; write"
                + " amqp://user@host1:5672/,amqp://user@host2:5672/");
      }
      nodes.add(parseNode(part));
    }
    boolean tls = nodes.get(0).uri().startsWith("amqps:");
    for (Node n : nodes) {
      if (n.uri().startsWith("amqps:") != tls) {
        throw new ConfigException(
            "The RabbitMQ nodes '"
                + Secrets.redact(text.strip())
                + "' mix amqp:// and amqps://; write every node with the same scheme");
      }
    }
    // a random first node, so that processes started together do not all pick the first one
    int start = nodes.size() == 1 ? 0 : ThreadLocalRandom.current().nextInt(nodes.size());
    return new BrokerAddress(List.copyOf(nodes), BrokerTls.DEFAULT, start - 1);
  }

  private static Node parseNode(String text) {
    String s = text.strip();
    try {
      // parseServerAuthority: a host java.net.URI cannot read (rabbit_1) would otherwise leave
      // the host unset, and the client would quietly connect to localhost as guest
      URI u = new URI(s).parseServerAuthority();
      if (!"amqp".equals(u.getScheme()) && !"amqps".equals(u.getScheme())) {
        throw new ConfigException(
            "The RabbitMQ address '"
                + Secrets.redact(s)
                + "' is not an AMQP URI; write amqp://user@host:5672/");
      }
      if ("/".equals(u.getRawPath())) {
        // "amqp://host:5672/" means the default virtual host "/" to most people; the AMQP URI
        // rules would make it the empty vhost, which RabbitMQ does not have.
        s =
            s.substring(
                    0, s.length() - (u.getRawQuery() == null ? 1 : 2 + u.getRawQuery().length()))
                + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery());
      }
      // validates now rather than at first connect
      new ConnectionFactory().setUri(withoutTls(s));
    } catch (URISyntaxException e) {
      // getReason, not getMessage: the message repeats the whole input, password included
      throw new ConfigException(
          "The RabbitMQ address '"
              + Secrets.redact(s)
              + "' is malformed ("
              + e.getReason()
              + " at index "
              + e.getIndex()
              + "); write amqp://user@host:5672/");
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new ConfigException(
          "The RabbitMQ address '"
              + Secrets.redact(s)
              + "' is malformed ("
              + e.getMessage()
              + "); write amqp://user@host:5672/");
    }
    return new Node(s, Secrets.redact(s));
  }

  /**
   * The address as amqp://, on port 5671 unless it names one: the client's own amqps:// handling
   * trusts every certificate, so TLS is set up here instead.
   */
  private static String withoutTls(String s) throws URISyntaxException {
    if (!s.startsWith("amqps:")) {
      return s;
    }
    URI u = new URI(s);
    String plain = "amqp:" + s.substring("amqps:".length());
    if (u.getPort() == -1) {
      // raw parts, so that an escaped password or virtual host stays as written
      plain =
          "amqp://"
              + (u.getRawUserInfo() == null ? "" : u.getRawUserInfo() + "@")
              + u.getHost()
              + ":"
              + AMQPS_PORT
              + (u.getRawPath() == null ? "" : u.getRawPath())
              + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery());
    }
    return plain;
  }

  /**
   * Opens a connection to the first node that accepts one, trying each node once, starting after
   * the node the previous connection went to; blocks up to the connection timeout (10 s) per node.
   * The caller closes it.
   *
   * @param name the connection's name in the broker's management view
   * @throws BrokerUnreachableException when no node accepts: refused, unknown host, no answer, or a
   *     refused login; the message names each node's host and port, as PostgreSQL's do
   */
  public Connection connect(String name) throws BrokerUnreachableException {
    int first = Math.floorMod(last.get() + 1, nodes.size());
    List<String> failures = new ArrayList<>();
    Exception cause = null;
    for (int i = 0; i < nodes.size(); i++) {
      int index = (first + i) % nodes.size();
      ConnectionFactory f = factory(nodes.get(index));
      String node =
          (f.getHost().contains(":") ? "[" + f.getHost() + "]" : f.getHost()) + ":" + f.getPort();
      try {
        Connection c = f.newConnection(name);
        last.set(index);
        if (!failures.isEmpty()) {
          log.info(
              "Connected to RabbitMQ node {} ({}); not reachable: {}",
              node,
              name,
              String.join("; ", failures));
        } else {
          log.debug("Connected to RabbitMQ node {} ({})", node, name);
        }
        return c;
      } catch (IOException | TimeoutException e) {
        String failure = node + ": " + BrokerFailures.networkReason(e);
        if (BrokerFailures.isConfigurationError(e)) {
          // the nodes of one cluster share their users: the others refuse it too
          throw new BrokerUnreachableException("Cannot connect to RabbitMQ at " + failure, e);
        }
        failures.add(failure);
        cause = e;
      }
    }
    throw new BrokerUnreachableException(
        nodes.size() == 1
            ? "Cannot connect to RabbitMQ at " + failures.get(0)
            : "Cannot connect to any RabbitMQ node (" + String.join("; ", failures) + ")",
        cause);
  }

  /**
   * A connection factory for the address's first node; automatic recovery is off, callers reconnect
   * (through {@link #connect}, which moves to another node).
   */
  public ConnectionFactory factory() {
    return factory(nodes.get(0));
  }

  private ConnectionFactory factory(Node node) {
    ConnectionFactory f = new ConnectionFactory();
    try {
      f.setUri(withoutTls(node.uri()));
    } catch (URISyntaxException | GeneralSecurityException e) {
      throw new IllegalStateException("validated at parse time", e);
    }
    if (tls()) {
      f.useSslProtocol(tls.context());
      if (!tls.insecure()) {
        f.enableHostnameVerification();
      }
    }
    f.setAutomaticRecoveryEnabled(false);
    f.setTopologyRecoveryEnabled(false);
    f.setConnectionTimeout((int) Duration.ofSeconds(10).toMillis());
    f.setRequestedHeartbeat(15);
    return f;
  }

  @Override
  public String toString() {
    return nodes.stream().map(Node::display).collect(Collectors.joining(","));
  }
}
