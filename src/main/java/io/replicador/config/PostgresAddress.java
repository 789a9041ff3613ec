package io.replicador.config;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * A PostgreSQL address, given as a libpq URI ({@code postgresql://user:secret@host:5432/db}) or a
 * JDBC URL ({@code jdbc:postgresql://host/db?user=u}). Immutable. {@link #toString} never shows a
 * password.
 *
 * <p>As in libpq, what the address leaves out comes from the environment: {@code PGHOST}, {@code
 * PGPORT}, {@code PGUSER}, {@code PGDATABASE}, {@code PGPASSWORD}, {@code PGSSLMODE}, {@code
 * PGSSLROOTCERT} and {@code PGAPPNAME}; then the defaults (localhost, 5432, the operating system
 * user, a database named as the user). Without a password from the address or {@code PGPASSWORD},
 * {@link #connect} looks in the password file ({@code PGPASSFILE}, else {@code $HOME/.pgpass}) each
 * time it connects.
 */
public final class PostgresAddress {
  private final String jdbcUrl;
  private final Properties properties;
  private final String display;
  private final String database;
  private final String passwordFileHost;
  private final String passwordFilePort;
  private final Path passwordFile;

  private PostgresAddress(
      String jdbcUrl,
      Properties properties,
      String display,
      String database,
      String passwordFileHost,
      String passwordFilePort,
      Path passwordFile) {
    this.jdbcUrl = jdbcUrl;
    this.properties = properties;
    this.display = display;
    this.database = database;
    this.passwordFileHost = passwordFileHost;
    this.passwordFilePort = passwordFilePort;
    this.passwordFile = passwordFile;
  }

  /** Parses an address, with libpq's environment variables from this process's environment. */
  public static PostgresAddress parse(String role, String text) {
    return parse(role, text, System.getenv());
  }

  /**
   * Parses an address.
   *
   * @param role what the address is for, for error messages ("primary", "replica")
   * @param environment where the PG* variables, {@code PGPASSFILE} and {@code HOME} are read
   */
  public static PostgresAddress parse(String role, String text, Map<String, String> environment) {
    if (text == null || text.isBlank()) {
      throw new ConfigException(
          "No "
              + role
              + " address given; set --"
              + role
              + " or REPLICADOR_"
              + role.toUpperCase(Locale.ROOT)
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
          throw new ConfigException(
              "The "
                  + role
                  + " address '"
                  + Secrets.redact(s)
                  + "' puts credentials before the host, which JDBC URLs do not support; write"
                  + " jdbc:postgresql://host:5432/db?user=u&password=p or postgresql://u:p@host/db");
        }
      } else {
        hostPart = "/" + hostPart;
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
      throw new ConfigException(
          "The "
              + role
              + " address '"
              + Secrets.redact(s)
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

    // what the address leaves out comes from the environment, as libpq does; empty means unset
    Map<String, String> env = new LinkedHashMap<>();
    environment.forEach(
        (k, v) -> {
          if (k.startsWith("PG") && v != null && !v.isEmpty()) {
            env.put(k, v);
          }
        });
    String user =
        props.getProperty("user", env.getOrDefault("PGUSER", System.getProperty("user.name")));
    props.setProperty("user", user);
    if (!props.containsKey("password") && env.containsKey("PGPASSWORD")) {
      props.setProperty("password", env.get("PGPASSWORD"));
    }
    copyIfAbsent(env, "PGSSLMODE", props, "sslmode");
    copyIfAbsent(env, "PGSSLROOTCERT", props, "sslrootcert");
    copyIfAbsent(env, "PGAPPNAME", props, "ApplicationName");

    int slash = hostPart.indexOf('/');
    String authority = slash < 0 ? hostPart : hostPart.substring(0, slash);
    String path = slash < 0 ? "" : hostPart.substring(slash + 1);
    Hosts hosts = Hosts.of(role, authority, env);
    String database;
    if (!path.isEmpty()) {
      database = decode(role, path);
    } else {
      database = env.getOrDefault("PGDATABASE", user);
      path = URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20");
    }
    String hostAndDb = hosts.authority() + "/" + path;
    return new PostgresAddress(
        "jdbc:postgresql://" + hostAndDb,
        props,
        "postgresql://" + user + "@" + hostAndDb,
        database,
        hosts.firstHost(),
        hosts.firstPort(),
        PasswordFile.location(environment));
  }

  private static void copyIfAbsent(
      Map<String, String> env, String variable, Properties props, String property) {
    if (!props.containsKey(property) && env.containsKey(variable)) {
      props.setProperty(property, env.get(variable));
    }
  }

  /**
   * The hosts and ports of an address, with PGHOST and PGPORT for those it leaves out. A PGHOST
   * naming a Unix socket directory is left aside: pgjdbc reaches servers over TCP only.
   */
  private record Hosts(String authority, String firstHost, String firstPort) {
    static Hosts of(String role, String authority, Map<String, String> env) {
      List<String> envHosts = new ArrayList<>();
      for (String h : env.getOrDefault("PGHOST", "").split(",")) {
        if (!h.isEmpty() && !h.startsWith("/")) {
          envHosts.add(h);
        }
      }
      List<String> envPorts =
          env.containsKey("PGPORT") ? List.of(env.get("PGPORT").split(",", -1)) : List.of();
      List<String> entries =
          authority.isEmpty() && !envHosts.isEmpty() ? envHosts : List.of(authority.split(",", -1));
      if (envPorts.size() > 1 && envPorts.size() != entries.size()) {
        throw new ConfigException(
            "PGPORT lists "
                + envPorts.size()
                + " ports for the "
                + entries.size()
                + " host(s) of the "
                + role
                + " address; give one port, or one per"
                + " host");
      }
      List<String> out = new ArrayList<>();
      String firstHost = null;
      String firstPort = null;
      for (int i = 0; i < entries.size(); i++) {
        String entry = entries.get(i);
        // the port follows the last colon, unless that colon is inside an IPv6 [address]
        int colon = entry.lastIndexOf(':');
        boolean hasPort = colon >= 0 && colon > entry.lastIndexOf(']');
        String host = hasPort ? entry.substring(0, colon) : entry;
        String port = hasPort ? entry.substring(colon + 1) : "";
        if (host.isEmpty()) {
          host = envHosts.isEmpty() ? "localhost" : envHosts.get(Math.min(i, envHosts.size() - 1));
        }
        if (port.isEmpty() && !envPorts.isEmpty()) {
          port = envPorts.get(envPorts.size() == 1 ? 0 : i);
        }
        out.add(port.isEmpty() ? host : host + ":" + port);
        if (i == 0) {
          firstHost = host;
          firstPort = port.isEmpty() ? "5432" : port;
        }
      }
      return new Hosts(String.join(",", out), firstHost, firstPort);
    }
  }

  private static String decode(String role, String s) {
    try {
      return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      // no cause and no text: URLDecoder's message quotes characters of what may be a password
      throw new ConfigException(
          "The "
              + role
              + " address has a malformed %-escape; write a"
              + " literal % as %25 and other special characters as %XX");
    }
  }

  /**
   * Opens a connection for applications' use. Strings are sent untyped so the server reads each
   * value with the target column's input function; the application name shows in {@code
   * pg_stat_activity}.
   */
  public Connection connect(String applicationName) throws SQLException {
    return DriverManager.getConnection(jdbcUrl, connectionProperties(applicationName));
  }

  /**
   * Opens a logical replication connection to the database (a walsender that reads a slot), for
   * pgjdbc's replication API: the role needs the REPLICATION attribute.
   */
  public Connection connectForReplication(String applicationName) throws SQLException {
    Properties p = connectionProperties(applicationName);
    p.setProperty("replication", "database");
    // a walsender answers the simple query protocol only
    p.setProperty("preferQueryMode", "simple");
    p.setProperty("assumeMinServerVersion", "10");
    return DriverManager.getConnection(jdbcUrl, p);
  }

  /** What {@link #connect} gives pgjdbc, password included: never to be shown. */
  Properties connectionProperties(String applicationName) {
    Properties p = new Properties();
    p.putAll(properties);
    p.putIfAbsent("ApplicationName", applicationName);
    p.setProperty("stringtype", "unspecified");
    p.putIfAbsent("tcpKeepAlive", "true");
    p.putIfAbsent("connectTimeout", "10");
    if (!p.containsKey("password")) {
      // Without a password pgjdbc looks for one itself, by rules of its own (the real PGPASSFILE,
      // else user.home rather than $HOME, and no permission check); an empty one keeps it from
      // looking a second time. Where the server asks for a password, pgjdbc then refuses (08004)
      // or the server does (28P01); Failures says how to give one.
      p.setProperty(
          "password",
          PasswordFile.lookup(
                  passwordFile, passwordFileHost, passwordFilePort, database, p.getProperty("user"))
              .orElse(""));
    }
    return p;
  }

  /** The JDBC URL without credentials. */
  public String jdbcUrl() {
    return jdbcUrl;
  }

  /** The database name: from the address, else PGDATABASE, else the user name. */
  public String database() {
    return database;
  }

  @Override
  public String toString() {
    return display;
  }
}
