package io.replicador.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ShutdownSignalException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.concurrent.TimeoutException;

/**
 * How the AMQP client's and the network's failures read in one line; the rest is {@code Failures}'
 * job.
 */
public final class BrokerFailures {
  private BrokerFailures() {}

  /**
   * Whether the broker refused what was configured, which waiting cannot heal: the user or password
   * (ACCESS_REFUSED), a virtual host the user may not use (NOT_ALLOWED), or a TLS certificate this
   * side does not trust.
   */
  public static boolean isConfigurationError(Throwable t) {
    if (untrustedCertificate(t) != null) {
      return true;
    }
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof com.rabbitmq.client.AuthenticationFailureException
          || c instanceof com.rabbitmq.client.PossibleAuthenticationFailureException) {
        return true;
      }
      if (c instanceof ShutdownSignalException s
          && s.getReason() instanceof AMQP.Connection.Close close
          && (close.getReplyCode() == AMQP.ACCESS_REFUSED
              || close.getReplyCode() == AMQP.NOT_ALLOWED)) {
        return true;
      }
    }
    return false;
  }

  /** The broker's own reason when {@code t} is the broker closing a channel or connection. */
  public static String describe(Throwable t) {
    if (t instanceof ShutdownSignalException s) {
      Object reason = s.getReason();
      if (reason instanceof AMQP.Channel.Close close) {
        return "RabbitMQ closed the channel: " + close.getReplyText();
      }
      if (reason instanceof AMQP.Connection.Close close) {
        return "RabbitMQ closed the connection: " + close.getReplyText();
      }
    }
    return null;
  }

  /**
   * Why a connection could not be opened, in a few words ("connection refused", "unknown host
   * rabbit_1", "no answer in time"), from the first cause that says; for messages that name the
   * server themselves (the client's own exceptions do not).
   */
  public static String networkReason(Throwable e) {
    String untrusted = untrustedCertificate(e);
    if (untrusted != null) {
      return untrusted;
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ConnectException) {
        // "Connection refused", or the system's "Network is unreachable" and the like
        return t.getMessage() == null
            ? "connection refused"
            : firstLine(t.getMessage()).toLowerCase(Locale.ROOT);
      }
      if (t instanceof UnknownHostException) {
        return "unknown host " + firstLine(t.getMessage()).replaceFirst(":.*", "");
      }
      if (t instanceof NoRouteToHostException) {
        return "no route to host";
      }
      if (t instanceof SocketTimeoutException || t instanceof TimeoutException) {
        return "no answer in time";
      }
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null && !t.getMessage().isBlank()) {
        return firstLine(t.getMessage());
      }
    }
    return e.getClass().getSimpleName();
  }

  /**
   * Why the broker's TLS certificate was refused, when it was: not signed by a trusted CA, or not
   * made out to the host connected to; else null.
   */
  static String untrustedCertificate(Throwable e) {
    boolean handshake = false;
    for (Throwable t = e; t != null; t = t.getCause()) {
      handshake |= t instanceof javax.net.ssl.SSLHandshakeException;
      if (handshake && t instanceof java.security.cert.CertificateException) {
        String m = firstLine(t.getMessage());
        if (t instanceof java.security.cert.CertificateExpiredException
            || t instanceof java.security.cert.CertificateNotYetValidException) {
          return "the broker's TLS certificate is not valid now (" + m + ")";
        }
        if (m.contains("match") || m.contains("subject alternative")) {
          return "the broker's TLS certificate is not made out to this host ("
              + m
              + "); connect by a name the certificate holds";
        }
        return "the broker's TLS certificate is not trusted ("
            + m
            + "); give the CA that signed it with --amqp-ca FILE";
      }
    }
    return null;
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }
}
