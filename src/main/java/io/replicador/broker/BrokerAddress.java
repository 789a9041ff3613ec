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
import java.util.concurrent.TimeoutException;

/**
 * A RabbitMQ address as an AMQP URI ({@code amqp://user:secret@host:5672/vhost}, or {@code
 * amqps://} for TLS). Immutable; {@link #toString} never shows the password.
 */
public final class BrokerAddress {
  private final String uri;
  private final String display;

  private BrokerAddress(String uri, String display) {
    this.uri = uri;
    this.display = display;
  }

  public static BrokerAddress parse(String text) {
    if (text == null || text.isBlank()) {
      throw new ConfigException(
          "No RabbitMQ address given; set --amqp or REPLICADOR_AMQP to amqp://user@host:5672/");
    }
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
      new ConnectionFactory().setUri(s); // validates now rather than at first connect
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
    return new BrokerAddress(s, Secrets.redact(s));
  }

  /**
   * Opens a connection; blocks up to the connection timeout (10 s). The caller closes it.
   *
   * @param name the connection's name in the broker's management view
   * @throws BrokerUnreachableException when it cannot be opened: refused, unknown host, no answer,
   *     or a refused login; the message names host and port, as PostgreSQL's do
   */
  public Connection connect(String name) throws BrokerUnreachableException {
    ConnectionFactory f = factory();
    try {
      return f.newConnection(name);
    } catch (IOException | TimeoutException e) {
      String host = f.getHost().contains(":") ? "[" + f.getHost() + "]" : f.getHost();
      throw new BrokerUnreachableException(
          "Cannot connect to RabbitMQ at "
              + host
              + ":"
              + f.getPort()
              + ": "
              + BrokerFailures.networkReason(e),
          e);
    }
  }

  /** A connection factory for this address; automatic recovery is off, callers reconnect. */
  public ConnectionFactory factory() {
    ConnectionFactory f = new ConnectionFactory();
    try {
      f.setUri(uri);
    } catch (URISyntaxException | GeneralSecurityException e) {
      throw new IllegalStateException("validated at parse time", e);
    }
    f.setAutomaticRecoveryEnabled(false);
    f.setTopologyRecoveryEnabled(false);
    f.setConnectionTimeout((int) Duration.ofSeconds(10).toMillis());
    f.setRequestedHeartbeat(15);
    return f;
  }

  @Override
  public String toString() {
    return display;
  }
}
