package io.replicador.apply;

import io.replicador.change.Change;
import io.replicador.change.Identifiers;
import io.replicador.change.Relation;
import io.replicador.change.TableName;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
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
import org.postgresql.copy.CopyIn;

/**
 * Applies a run of inserts into one table set-based. The rows go by COPY straight into the table,
 * inside a savepoint; if some key is already there (a snapshot overlap), that is rolled back and
 * the rows go by COPY into a temporary table of text columns instead, from which one {@code INSERT
 * ... SELECT ... ON CONFLICT} moves them, each value cast to its column type (the same input
 * function COPY or a bound parameter would meet). Either way many times faster than row-by-row
 * statements for bulk loads. Temporary tables live as long as the connection; not thread-safe.
 */
final class BulkInserter {
  /** After a conflict, this many runs of the table go the upsert way before COPY is tried again. */
  private static final int UPSERT_RUNS_AFTER_CONFLICT = 100;

  private static final String UNIQUE_VIOLATION = "23505";

  /** Bytes of rows sent to COPY at a time. */
  private static final int CHUNK_BYTES = 64 * 1024;

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
  void insert(List<Change> run, List<String> keep) throws SQLException {
    Relation r = run.get(0).relation();
    Target t = target(r, keep);
    try (Statement st = connection.createStatement()) {
      if (t.upsertRuns == 0) {
        st.execute("SAVEPOINT replicador_bulk");
        try {
          copy(t.directCopy, run);
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
      copy("COPY " + t.staging.name + " FROM STDIN", run);
      st.executeUpdate(t.staging.insertSql);
      st.execute("TRUNCATE " + t.staging.name);
    }
  }

  /**
   * Streams the rows' values to COPY in its text format, a chunk at a time, so that the server
   * reads each chunk while the next is written.
   */
  private void copy(String sql, List<Change> run) throws SQLException {
    CopyIn in = connection.unwrap(PGConnection.class).getCopyAPI().copyIn(sql);
    try {
      Chunk chunk = new Chunk();
      for (Change c : run) {
        List<String> values = c.values();
        for (int i = 0; i < values.size(); i++) {
          if (i > 0) {
            chunk.write('\t');
          }
          chunk.writeBytes(copyText(values.get(i)).getBytes(StandardCharsets.UTF_8));
        }
        chunk.write('\n');
        if (chunk.size() >= CHUNK_BYTES) {
          in.writeToCopy(chunk.bytes(), 0, chunk.size());
          chunk.reset();
        }
      }
      in.writeToCopy(chunk.bytes(), 0, chunk.size());
      in.endCopy();
    } finally {
      if (in.isActive()) {
        in.cancelCopy();
      }
    }
  }

  /** A buffer whose bytes can be handed on without a copy. */
  private static final class Chunk extends ByteArrayOutputStream {
    Chunk() {
      super(CHUNK_BYTES + 1024);
    }

    byte[] bytes() {
      return buf;
    }
  }

  private Target target(Relation r, List<String> keep) {
    String key =
        r.table().quoted()
            + "|"
            + String.join("\u0001", r.columns())
            + "|"
            + String.join("\u0001", keep);
    return targets.computeIfAbsent(
        key,
        k ->
            new Target(
                "COPY "
                    + r.table().quoted()
                    + " ("
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
    return "INSERT INTO "
        + t.quoted()
        + " ("
        + cols
        + ") OVERRIDING SYSTEM VALUE SELECT "
        + casts
        + " FROM "
        + staging
        + conflict;
  }

  /** COPY's text format: backslash escapes for the few special characters, \N for NULL. */
  static String copyText(String value) {
    if (value == null) {
      return "\\N";
    }
    if (value.indexOf('\\') < 0
        && value.indexOf('\n') < 0
        && value.indexOf('\r') < 0
        && value.indexOf('\t') < 0) {
      return value; // most values: nothing to escape
    }
    StringBuilder out = new StringBuilder(value.length() + 16);
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
    return out.append(value, copied, value.length()).toString();
  }

  /**
   * Forgets the temporary tables (after the connection was replaced or a rollback dropped them).
   */
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
