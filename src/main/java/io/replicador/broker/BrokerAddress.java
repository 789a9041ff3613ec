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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A RabbitMQ address as an AMQP URI ({@code amqp://user:secret@host:5672/vhost}, or {@code
 * amqps://} for TLS, whose broker certificate and host name are verified as {@link BrokerTls}
 * says). Immutable; {@link #toString} never shows the password.
 */
public final class BrokerAddress {
  private static final Logger log = LoggerFactory.getLogger(BrokerAddress.class);
  private static final int AMQPS_PORT = 5671;

  private final String uri;
  private final String display;
  private final BrokerTls tls;

  private BrokerAddress(String uri, String display, BrokerTls tls) {
    this.uri = uri;
    this.display = display;
    this.tls = tls;
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
              + display
              + "' is amqp://; write amqps://");
    }
    if (tls.insecure()) {
      log.warn(
          "--amqp-insecure: the certificate of RabbitMQ at {} is not verified; anyone on the"
              + " path can pose as the broker and read its password and every change",
          display);
    }
    return new BrokerAddress(uri, display, tls);
  }

  /** Whether the address is {@code amqps://}. */
  public boolean tls() {
    return uri.startsWith("amqps:");
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
    return new BrokerAddress(s, Secrets.redact(s), BrokerTls.DEFAULT);
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
      f.setUri(withoutTls(uri));
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
    return display;
  }
}
