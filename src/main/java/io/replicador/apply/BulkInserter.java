package io.replicador.apply;

import io.replicador.change.Change;
import io.replicador.change.Identifiers;
import io.replicador.change.Relation;
import io.replicador.change.TableName;
import java.io.IOException;
import java.io.StringReader;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.postgresql.PGConnection;

/**
 * Applies a run of inserts into one table set-based: the rows go by COPY into a temporary table of
 * text columns, then one {@code INSERT ... SELECT ... ON CONFLICT} moves them, each value cast to
 * its column type (the same input function a bound parameter would meet). Several times faster
 * than row-by-row statements for bulk loads. Temporary tables live as long as the connection;
 * not thread-safe.
 */
final class BulkInserter {
  private final Connection connection;
  private final Map<String, Staging> stagings = new HashMap<>();

  BulkInserter(Connection connection) {
    this.connection = connection;
  }

  /** Inserts (or, for keys already there, updates) the rows; all changes are inserts of one relation. */
  /**
   * @param keep columns the conflict branch must not set (GENERATED ALWAYS identity columns)
   */
  void insert(List<Change> run, List<String> keep) throws SQLException, IOException {
    Relation r = run.get(0).relation();
    Staging s = staging(r, keep);
    StringBuilder data = new StringBuilder(run.size() * 64);
    for (Change c : run) {
      List<String> values = c.values();
      for (int i = 0; i < values.size(); i++) {
        if (i > 0) {
          data.append('\t');
        }
        appendCopyText(data, values.get(i));
      }
      data.append('\n');
    }
    PGConnection pg = connection.unwrap(PGConnection.class);
    pg.getCopyAPI().copyIn("COPY " + s.name + " FROM STDIN", new StringReader(data.toString()));
    try (Statement st = connection.createStatement()) {
      st.executeUpdate(s.insertSql);
      st.execute("TRUNCATE " + s.name);
    }
  }

  private Staging staging(Relation r, List<String> keep) throws SQLException {
    String key =
        r.table().quoted() + "|" + String.join("\u0001", r.columns()) + "|"
            + String.join("\u0001", keep);
    Staging s = stagings.get(key);
    if (s == null) {
      String name = Identifiers.quote("replicador_bulk_" + stagings.size());
      String columns =
          r.columns().stream()
              .map(c -> Identifiers.quote(c) + " text")
              .collect(Collectors.joining(", "));
      try (Statement st = connection.createStatement()) {
        st.execute("DROP TABLE IF EXISTS pg_temp." + name);
        st.execute("CREATE TEMPORARY TABLE " + name + " (" + columns + ")");
      }
      s = new Staging("pg_temp." + name, insertSql(r, "pg_temp." + name, typesWithoutModifier(r), keep));
      stagings.put(key, s);
    }
    return s;
  }

  /**
   * Column types without their modifier: {@code text::varchar(3)} would silently cut a longer
   * value, while casting to {@code varchar} and letting the insert apply the length fails loudly,
   * as a bound parameter would.
   */
  private Map<String, String> typesWithoutModifier(Relation r) throws SQLException {
    Map<String, String> types = new HashMap<>();
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a"
                + " WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped")) {
      ps.setString(1, r.table().quoted());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          types.put(rs.getString(1), rs.getString(2));
        }
      }
    }
    return types;
  }

  static String insertSql(
      Relation r, String staging, Map<String, String> types, List<String> keep) {
    TableName t = r.table();
    String casts =
        r.columns().stream()
            .map(c -> Identifiers.quote(c) + "::" + types.get(c))
            .collect(Collectors.joining(", "));
    String upsert = ApplyStatements.upsert(t, r.columns(), r.key(), keep);
    String conflict = upsert.substring(upsert.indexOf(" ON CONFLICT "));
    String cols = r.columns().stream().map(Identifiers::quote).collect(Collectors.joining(", "));
    return "INSERT INTO " + t.quoted() + " (" + cols + ") OVERRIDING SYSTEM VALUE SELECT " + casts
        + " FROM " + staging + conflict;
  }

  /** COPY's text format: backslash escapes for the few special characters, \N for NULL. */
  static void appendCopyText(StringBuilder out, String value) {
    if (value == null) {
      out.append("\\N");
      return;
    }
    for (int i = 0; i < value.length(); i++) {
      char ch = value.charAt(i);
      switch (ch) {
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> out.append(ch);
      }
    }
  }

  /** Forgets the temporary tables (after the connection was replaced or a rollback dropped them). */
  void reset() {
    stagings.clear();
  }

  private record Staging(String name, String insertSql) {}
}
