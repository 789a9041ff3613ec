package io.replicador.config;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * A PostgreSQL address, given as a libpq URI ({@code postgresql://user:secret@host:5432/db}) or a
 * JDBC URL ({@code jdbc:postgresql://host/db?user=u}). Immutable. {@link #toString} never shows a
 * password.
 */
public final class PostgresAddress {
  private final String jdbcUrl;
  private final Properties properties;
  private final String display;

  private PostgresAddress(String jdbcUrl, Properties properties, String display) {
    this.jdbcUrl = jdbcUrl;
    this.properties = properties;
    this.display = display;
  }

  /**
   * Parses an address.
   *
   * @param role what the address is for, for error messages ("primary", "replica")
   */
  public static PostgresAddress parse(String role, String text) {
    if (text == null || text.isBlank()) {
      throw new ConfigException("No " + role + " address given; set --" + role
          + " or REPLICADOR_" + role.toUpperCase(java.util.Locale.ROOT)
          + " to postgresql://user@host:5432/db");
    }
    String s = text.strip();
    Properties props = new Properties();
    String hostPart;
    String query;
    if (s.startsWith("jdbc:postgresql:")) {
      String rest = s.substring("jdbc:postgresql:".length());
      int q = rest.indexOf('?');
      hostPart = q < 0 ? rest : rest.substring(0, q);
      query = q < 0 ? "" : rest.substring(q + 1);
      if (hostPart.startsWith("//")) {
        hostPart = hostPart.substring(2);
        int slash = hostPart.indexOf('/');
        if ((slash < 0 ? hostPart : hostPart.substring(0, slash)).contains("@")) {
          // pgjdbc has no user:password@ syntax; the password would end up in the URL and toString
          throw new ConfigException("The " + role + " address '" + Secrets.redact(s)
              + "' puts credentials before the host, which JDBC URLs do not support; write"
              + " jdbc:postgresql://host:5432/db?user=u&password=p or postgresql://u:p@host/db");
        }
      } else {
        hostPart = "localhost/" + hostPart;
      }
    } else if (s.startsWith("postgresql://") || s.startsWith("postgres://")) {
      String rest = s.substring(s.indexOf("://") + 3);
      int q = rest.indexOf('?');
      query = q < 0 ? "" : rest.substring(q + 1);
      rest = q < 0 ? rest : rest.substring(0, q);
      int at = rest.lastIndexOf('@');
      if (at >= 0) {
        String userInfo = rest.substring(0, at);
        rest = rest.substring(at + 1);
        int colon = userInfo.indexOf(':');
        String user = colon < 0 ? userInfo : userInfo.substring(0, colon);
        if (!user.isEmpty()) {
          props.setProperty("user", decode(role, user));
        }
        if (colon >= 0) {
          props.setProperty("password", decode(role, userInfo.substring(colon + 1)));
        }
      }
      hostPart = rest;
    } else {
      throw new ConfigException("The " + role + " address '" + Secrets.redact(s)
          + "' is not a PostgreSQL URI; write postgresql://user@host:5432/db or"
          + " jdbc:postgresql://host:5432/db");
    }
    Map<String, String> params = new LinkedHashMap<>();
    for (String pair : query.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String key = decode(role, eq < 0 ? pair : pair.substring(0, eq));
      String value = eq < 0 ? "" : decode(role, pair.substring(eq + 1));
      // libpq spellings that pgjdbc names differently
      key =
          switch (key) {
            case "application_name" -> "ApplicationName";
            case "connect_timeout" -> "connectTimeout";
            default -> key;
          };
      params.put(key, value);
    }
    params.forEach(props::setProperty);
    String hostAndDb = hostPart.isEmpty() ? "localhost/" : hostPart;
    if (!hostAndDb.contains("/")) {
      hostAndDb = hostAndDb + "/";
    }
    if (hostAndDb.startsWith("/")) {
      hostAndDb = "localhost" + hostAndDb;
    }
    String jdbc = "jdbc:postgresql://" + hostAndDb;
    String user = props.getProperty("user", System.getProperty("user.name"));
    String displayed = "postgresql://" + user + "@" + hostAndDb;
    return new PostgresAddress(jdbc, props, displayed);
  }

  private static String decode(String role, String s) {
    try {
      return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      // no cause and no text: URLDecoder's message quotes characters of what may be a password
      throw new ConfigException("The " + role + " address has a malformed %-escape; write a"
          + " literal % as %25 and other special characters as %XX");
    }
  }

  /**
   * Opens a connection for applications' use. Strings are sent untyped so the server reads each
   * value with the target column's input function; the application name shows in
   * {@code pg_stat_activity}.
   */
  public Connection connect(String applicationName) throws SQLException {
    Properties p = new Properties();
    p.putAll(properties);
    p.putIfAbsent("ApplicationName", applicationName);
    p.setProperty("stringtype", "unspecified");
    p.putIfAbsent("tcpKeepAlive", "true");
    p.putIfAbsent("connectTimeout", "10");
    return DriverManager.getConnection(jdbcUrl, p);
  }

  /** The JDBC URL without credentials. */
  public String jdbcUrl() {
    return jdbcUrl;
  }

  /** The database name, or the empty string when the address names none. */
  public String database() {
    String path = jdbcUrl.substring(jdbcUrl.indexOf("//") + 2);
    return path.substring(path.indexOf('/') + 1);
  }

  @Override
  public String toString() {
    return display;
  }
}
