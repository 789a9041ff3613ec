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
import org.postgresql.copy.CopyManager;

/**
 * Applies a run of inserts into one table set-based. The rows go by COPY straight into the
 * table, inside a savepoint; if some key is already there (a snapshot overlap), that is rolled
 * back and the rows go by COPY into a temporary table of text columns instead, from which one
 * {@code INSERT ... SELECT ... ON CONFLICT} moves them, each value cast to its column type (the
 * same input function COPY or a bound parameter would meet). Either way many times faster than
 * row-by-row statements for bulk loads. Temporary tables live as long as the connection; not
 * thread-safe.
 */
final class BulkInserter {
  /** After a conflict, this many runs of the table go the upsert way before COPY is tried again. */
  private static final int UPSERT_RUNS_AFTER_CONFLICT = 100;
  private static final String UNIQUE_VIOLATION = "23505";

  private final Connection connection;
  private final Map<String, Target> targets = new HashMap<>();
  private int stagingCount;

  BulkInserter(Connection connection) {
    this.connection = connection;
  }

  /**
   * Inserts (or, for keys already there, updates) the rows; all changes are inserts of one
   * relation.
   *
   * @param keep columns the conflict branch must not set (GENERATED ALWAYS identity columns)
   */
  void insert(List<Change> run, List<String> keep) throws SQLException, IOException {
    Relation r = run.get(0).relation();
    Target t = target(r, keep);
    String data = copyText(run);
    CopyManager copy = connection.unwrap(PGConnection.class).getCopyAPI();
    try (Statement st = connection.createStatement()) {
      if (t.upsertRuns == 0) {
        st.execute("SAVEPOINT replicador_bulk");
        try {
          copy.copyIn(t.directCopy, new StringReader(data));
          st.execute("RELEASE SAVEPOINT replicador_bulk");
          return;
        } catch (SQLException e) {
          if (!UNIQUE_VIOLATION.equals(e.getSQLState())) {
            throw e;
          }
          st.execute("ROLLBACK TO SAVEPOINT replicador_bulk");
          st.execute("RELEASE SAVEPOINT replicador_bulk");
          t.upsertRuns = UPSERT_RUNS_AFTER_CONFLICT;
        }
      } else {
        t.upsertRuns--;
      }
      if (t.staging == null) {
        t.staging = createStaging(r, keep);
      }
      copy.copyIn("COPY " + t.staging.name + " FROM STDIN", new StringReader(data));
      st.executeUpdate(t.staging.insertSql);
      st.execute("TRUNCATE " + t.staging.name);
    }
  }

  private static String copyText(List<Change> run) {
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
    return data.toString();
  }

  private Target target(Relation r, List<String> keep) {
    String key =
        r.table().quoted() + "|" + String.join("\u0001", r.columns()) + "|"
            + String.join("\u0001", keep);
    return targets.computeIfAbsent(
        key,
        k ->
            new Target(
                "COPY " + r.table().quoted() + " ("
                    + r.columns().stream().map(Identifiers::quote).collect(Collectors.joining(", "))
                    + ") FROM STDIN"));
  }

  private Staging createStaging(Relation r, List<String> keep) throws SQLException {
    String name = Identifiers.quote("replicador_bulk_" + stagingCount++);
    String columns =
        r.columns().stream()
            .map(c -> Identifiers.quote(c) + " text")
            .collect(Collectors.joining(", "));
    try (Statement st = connection.createStatement()) {
      st.execute("DROP TABLE IF EXISTS pg_temp." + name);
      st.execute("CREATE TEMPORARY TABLE " + name + " (" + columns + ")");
    }
    return new Staging(
        "pg_temp." + name, insertSql(r, "pg_temp." + name, typesWithoutModifier(r), keep));
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
    int copied = 0; // runs without special characters are appended whole
    for (int i = 0; i < value.length(); i++) {
      String escape =
          switch (value.charAt(i)) {
            case '\\' -> "\\\\";
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\\t";
            default -> null;
          };
      if (escape != null) {
        out.append(value, copied, i).append(escape);
        copied = i + 1;
      }
    }
    out.append(value, copied, value.length());
  }

  /** Forgets the temporary tables (after the connection was replaced or a rollback dropped them). */
  void reset() {
    targets.clear();
    stagingCount = 0;
  }

  private record Staging(String name, String insertSql) {}

  /** One relation's ways in: COPY straight into the table, or through its staging table. */
  private static final class Target {
    final String directCopy;
    Staging staging;
    int upsertRuns;

    Target(String directCopy) {
      this.directCopy = directCopy;
    }
  }
}
