package io.replicador.metrics;

import io.replicador.config.ConfigException;
import java.net.InetSocketAddress;

/**
 * Where {@code /metrics} and the health checks are served: {@code HOST:PORT} ({@code [::1]:9187}
 * for IPv6), port 0 for any free port. An immutable value; parsing resolves nothing.
 */
public record MetricsAddress(String host, int port) {
  public MetricsAddress {
    if (host.isEmpty()) {
      throw new ConfigException("--metrics needs a host, e.g. 0.0.0.0:9187 or 127.0.0.1:9187");
    }
    if (port < 0 || port > 65535) {
      throw new ConfigException("--metrics port must be 0 to 65535, got " + port);
    }
  }

  /** Parses {@code HOST:PORT}; a one-line {@link ConfigException} naming the option when wrong. */
  public static MetricsAddress parse(String text) {
    String hint = "; expected HOST:PORT, e.g. 0.0.0.0:9187 (port 0 picks a free port)";
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw new ConfigException("--metrics '" + text + "' is not HOST:PORT" + hint);
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw new ConfigException(
          "--metrics '" + text + "': write an IPv6 host in brackets, e.g. [::1]:9187");
    }
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new ConfigException("--metrics '" + text + "' has no numeric port" + hint, e);
    }
    return new MetricsAddress(host, port);
  }

  InetSocketAddress socketAddress() {
    return new InetSocketAddress(host, port);
  }

  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
