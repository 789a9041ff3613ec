package io.replicador.store;

import io.replicador.config.ConfigException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Numbered migrations of one database's {@code replicador} schema: SQL resources {@code
 * V1__name.sql}, {@code V2__name.sql}, ... applied in order, each in the transaction that records
 * its number in {@code replicador.schema_version}. Every migration is idempotent, so a schema from
 * before the numbering (without that table) is brought up to date by running them all. Immutable.
 *
 * @param side what the schema is, for messages ("primary", "replica")
 * @param folder the resource folder of the migrations
 * @param files the migration file names, in order: file N is version N
 * @param marker a table that exists from version 1 on
 */
record Migrations(String side, String folder, List<String> files, String marker) {
  Migrations {
    files = List.copyOf(files);
  }

  /** The version this code writes and reads. */
  int latest() {
    return files.size();
  }

  /**
   * The installed version: 0 when nothing is installed, or only a schema from before the numbering
   * (whose idempotent version-1 script then runs again and brings it up to date). Reads in the
   * caller's transaction.
   */
  int installed(Connection c) throws SQLException {
    if (!exists(c, "replicador.schema_version")) {
      return 0;
    }
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT max(version) FROM replicador.schema_version")) {
      return rs.next() ? rs.getInt(1) : 0;
    }
  }

  /** Whether any version of the schema is there (numbered or not). */
  boolean present(Connection c) throws SQLException {
    return exists(c, marker);
  }

  static boolean exists(Connection c, String table) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
      ps.setString(1, table);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  /** {@link #apply}, then commits. */
  void migrate(Connection c) throws SQLException {
    apply(c);
    c.commit();
  }

  /**
   * Brings the schema to {@link #latest} in the caller's transaction; refuses one newer than that.
   * Serialised by an advisory lock, so two processes starting together migrate once. Autocommit
   * must be off.
   */
  void apply(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
      ps.setString(1, "replicador.migrate." + side);
      ps.executeQuery().close();
    }
    int installed = installed(c);
    requireNotNewer(installed);
    try (Statement st = c.createStatement()) {
      st.execute("CREATE SCHEMA IF NOT EXISTS replicador");
      st.execute(
          "CREATE TABLE IF NOT EXISTS replicador.schema_version (version int PRIMARY KEY,"
              + " installed_at timestamptz NOT NULL DEFAULT now())");
      for (int v = installed + 1; v <= latest(); v++) {
        st.execute(sql(v));
        st.execute("INSERT INTO replicador.schema_version (version) VALUES (" + v + ")");
      }
    }
  }

  /**
   * Fails unless the installed schema is exactly the latest; the message names {@code where} and
   * the command that upgrades it ({@code upgrade}).
   */
  void require(Connection c, String where, String upgrade) throws SQLException {
    int installed = installed(c);
    requireNotNewer(installed);
    if (!present(c)) {
      throw new ConfigException(
          "Replicador is not installed on the " + side + " " + where + "; " + upgrade);
    }
    if (installed < latest()) {
      throw new ConfigException(
          "The replicador schema on the "
              + side
              + " "
              + where
              + " was installed by an older version of Replicador (schema "
              + installed
              + ", this"
              + " one needs "
              + latest()
              + "); "
              + upgrade
              + " (it keeps everything waiting there)");
    }
  }

  private void requireNotNewer(int installed) {
    if (installed > latest()) {
      throw new ConfigException(
          "The replicador schema on the "
              + side
              + " is version "
              + installed
              + ", written by a newer Replicador than this one (which knows up to "
              + latest()
              + "); upgrade Replicador");
    }
  }

  private String sql(int version) {
    String name = folder + "/" + files.get(version - 1);
    try (InputStream in = Migrations.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("Migration " + name + " is missing from the build");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read migration " + name, e);
    }
  }
}
