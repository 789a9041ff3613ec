package io.replicador.schema;

import io.replicador.change.Identifiers;
import io.replicador.change.TableName;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Catalog look-ups on one connection: whether a table exists, its columns and its primary key.
 * Names are passed as bind parameters, never spliced into SQL. Not thread-safe (uses the caller's
 * connection); does not close it.
 */
public final class TableCatalog {
  private final Connection connection;

  public TableCatalog(Connection connection) {
    this.connection = connection;
  }

  /** The table's oid and kind ('r' ordinary, 'p' partitioned, ...), if it exists. */
  public Optional<TableRef> find(TableName table) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT c.oid::int8, c.relkind::text FROM pg_class c"
                + " JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname = ? AND c.relname = ?")) {
      ps.setString(1, table.schema());
      ps.setString(2, table.name());
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(new TableRef(table, rs.getLong(1), rs.getString(2).charAt(0)));
      }
    }
  }

  /**
   * The table an unqualified name means in this session (its search_path decides), if any; quoted
   * here, so the name is taken as it is spelled.
   */
  public Optional<TableName> visible(String name) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT n.nspname, c.relname FROM pg_class c"
                + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(?)")) {
      ps.setString(1, Identifiers.quote(name));
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next()
            ? Optional.of(TableName.of(rs.getString(1), rs.getString(2)))
            : Optional.empty();
      }
    }
  }

  /** The schema an unqualified CREATE TABLE creates its table in, or null when none. */
  public String creationSchema() throws SQLException {
    try (PreparedStatement ps = connection.prepareStatement("SELECT current_schema()");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getString(1);
    }
  }

  /** Live columns in attribute order (what {@code row::text} prints, in that order). */
  public List<ColumnInfo> columns(long relid) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attidentity::text,"
                + " a.attgenerated <> '' FROM pg_attribute a"
                + " WHERE a.attrelid = ?::int8::oid AND a.attnum > 0 AND NOT a.attisdropped"
                + " ORDER BY a.attnum")) {
      ps.setLong(1, relid);
      try (ResultSet rs = ps.executeQuery()) {
        List<ColumnInfo> columns = new ArrayList<>();
        while (rs.next()) {
          String identity = rs.getString(3);
          columns.add(
              new ColumnInfo(
                  rs.getString(1),
                  rs.getString(2),
                  identity == null || identity.isEmpty() ? 0 : identity.charAt(0),
                  rs.getBoolean(4)));
        }
        return columns;
      }
    }
  }

  /** Primary-key column names in key order; empty when the table has no primary key. */
  public List<String> primaryKey(long relid) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT a.attname FROM pg_index i"
                + " CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
                + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                + " WHERE i.indrelid = ?::int8::oid AND i.indisprimary ORDER BY k.ord")) {
      ps.setLong(1, relid);
      try (ResultSet rs = ps.executeQuery()) {
        List<String> key = new ArrayList<>();
        while (rs.next()) {
          key.add(rs.getString(1));
        }
        return key;
      }
    }
  }

  /**
   * The sequences that feed the table's columns (identity columns and serial or OWNED BY
   * sequences): column name to the sequence's name as regclass prints it (quoted as needed).
   */
  public Map<String, String> ownedSequences(long relid) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT a.attname, d.objid::regclass::text FROM pg_depend d"
                + " JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
                + " JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
                + " WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
                + " AND d.refobjid = ?::int8::oid AND d.deptype IN ('a', 'i')")) {
      ps.setLong(1, relid);
      try (ResultSet rs = ps.executeQuery()) {
        Map<String, String> sequences = new HashMap<>();
        while (rs.next()) {
          sequences.put(rs.getString(1), rs.getString(2));
        }
        return sequences;
      }
    }
  }

  /** Every ordinary and partitioned table of a schema, partitions excluded. */
  public List<TableName> tablesOfSchema(String schema) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname = ? AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                + " ORDER BY c.relname")) {
      ps.setString(1, schema);
      try (ResultSet rs = ps.executeQuery()) {
        List<TableName> tables = new ArrayList<>();
        while (rs.next()) {
          tables.add(TableName.of(schema, rs.getString(1)));
        }
        return tables;
      }
    }
  }

  /** A resolved table. */
  public record TableRef(TableName name, long oid, char kind) {}
}
