package io.replicador.publish;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.replicador.change.Change;
import io.replicador.change.Operation;
import io.replicador.change.Relation;
import io.replicador.change.TableName;
import io.replicador.publish.PgOutput.Value;
import io.replicador.publish.RelationCache.ChangeSink;
import io.replicador.schema.TableCatalog;
import io.replicador.store.ChangeLogRow;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns pgoutput's row messages into {@link Change}s as the trigger changelog would give them: the
 * same relation (columns without generated ones, the primary key as key), the same text values (the
 * slot's connection prints them under the capture functions' output settings), and values longer
 * than {@link RelationCache#PIECE_CHARS} sent ahead as pieces.
 *
 * <p>An UPDATE whose TOASTed values did not change leaves them out (pgoutput does not send them):
 * the change then describes the table by the columns it has, so the replica's UPDATE sets those
 * only and keeps the rest. Not thread-safe.
 */
final class WalChanges {
  private final TableCatalog catalog;
  private final Map<Integer, Table> tables = new HashMap<>();

  WalChanges(TableCatalog catalog) {
    this.catalog = catalog;
  }

  /** A relation as pgoutput described it, and the relations of its partial updates. */
  private record Table(Relation relation, int[] keyIndexes, Map<BitSet, Relation> partial) {}

  /** Takes in a relation's description; pgoutput sends one before its first change in a stream. */
  void relation(PgOutput.RelationMessage m) throws SQLException {
    TableName name = TableName.of(m.schema(), m.name());
    List<String> key = catalog.primaryKey(m.relid() & 0xffffffffL);
    if (key.isEmpty()) {
      throw new IllegalStateException(
          "Table " + name + " has no primary key; add one back so its changes ship");
    }
    List<String> columns = m.columns().stream().map(PgOutput.Column::name).toList();
    int[] keyIndexes = new int[key.size()];
    for (int k = 0; k < key.size(); k++) {
      keyIndexes[k] = columns.indexOf(key.get(k));
      if (keyIndexes[k] < 0) {
        throw new IllegalStateException(
            "Key column "
                + key.get(k)
                + " of "
                + name
                + " is not among the columns the slot sends");
      }
    }
    tables.put(m.relid(), new Table(new Relation(name, columns, key), keyIndexes, new HashMap<>()));
  }

  /**
   * The prefix of the logical decoding messages that carry schema changes
   * (V3__ddl_and_refresh.sql).
   */
  static final String DDL_PREFIX = "replicador.ddl";

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * The schema change a {@link #DDL_PREFIX} message carries: a JSON object with the fields schema,
   * table, statement and search_path, written by replicador.record_ddl.
   */
  static Change ddl(PgOutput.LogicalMessage m) {
    try {
      JsonNode o = JSON.readTree(m.content());
      String schema = o.path("schema").textValue();
      String table = o.path("table").textValue();
      String statement = o.path("statement").textValue();
      String searchPath = o.path("search_path").textValue();
      if (schema == null || table == null || statement == null) {
        throw new IllegalStateException(
            "Schema change message at " + m.lsn() + " lacks schema, table or statement");
      }
      return Change.ddl(
          TableName.of(schema, table), statement, searchPath == null ? "" : searchPath);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(
          "Schema change message at " + m.lsn() + " is not JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** The prefix of the messages that carry the rows verify --repair re-emits. */
  static final String REFRESH_PREFIX = "replicador.refresh";

  /**
   * The row a {@link #REFRESH_PREFIX} message carries (written by replicador.refresh_row), as the
   * changelog row the trigger source would read: an insert of the row, or a delete of the key that
   * the row's text holds.
   */
  static ChangeLogRow refreshRow(PgOutput.LogicalMessage m, String xid) {
    try {
      JsonNode o = JSON.readTree(m.content());
      String schema = o.path("schema").textValue();
      String table = o.path("table").textValue();
      String op = o.path("op").textValue();
      String row = o.path("row").textValue();
      long relid = o.path("relid").asLong(0);
      if (schema == null
          || table == null
          || row == null
          || relid == 0
          || !("I".equals(op) || "D".equals(op))) {
        throw new IllegalStateException(
            "Refresh message at " + m.lsn() + " lacks relid, schema, table, op or row");
      }
      boolean insert = op.equals("I");
      return new ChangeLogRow(
          xid,
          relid,
          TableName.of(schema, table),
          insert ? Operation.INSERT : Operation.DELETE,
          insert ? row : null,
          insert ? null : row,
          0,
          0,
          false,
          false);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(
          "Refresh message at " + m.lsn() + " is not JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** The changes of a row message (or truncate), to the sink in order. */
  void changes(PgOutput.Message m, ChangeSink sink) throws Exception {
    if (m instanceof PgOutput.Insert i) {
      row(Operation.INSERT, table(i.relid()).relation, i.newTuple(), List.of(), sink);
    } else if (m instanceof PgOutput.Update u) {
      update(u, sink);
    } else if (m instanceof PgOutput.Delete d) {
      Table t = table(d.relid());
      sink.accept(new Change(Operation.DELETE, t.relation, List.of(), key(t, d.oldTuple())), 64);
    } else if (m instanceof PgOutput.Truncate tr) {
      for (int relid : tr.relids()) {
        sink.accept(new Change(Operation.TRUNCATE, table(relid).relation, List.of(), List.of()), 8);
      }
    } else {
      throw new IllegalArgumentException("Not a row change: " + m);
    }
  }

  private void update(PgOutput.Update u, ChangeSink sink) throws Exception {
    Table t = table(u.relid());
    List<String> key = key(t, u.oldTuple() != null ? u.oldTuple() : u.newTuple());
    BitSet unchanged = new BitSet();
    for (int c = 0; c < u.newTuple().size(); c++) {
      if (u.newTuple().get(c).kind() == Value.Kind.UNCHANGED) {
        unchanged.set(c);
      }
    }
    if (unchanged.isEmpty()) {
      row(Operation.UPDATE, t.relation, u.newTuple(), key, sink);
      return;
    }
    Relation partial = t.partial.computeIfAbsent(unchanged, b -> without(t.relation, b));
    List<Value> known = new ArrayList<>(partial.columns().size());
    for (int c = 0; c < u.newTuple().size(); c++) {
      if (!unchanged.get(c)) {
        known.add(u.newTuple().get(c));
      }
    }
    row(Operation.UPDATE, partial, known, key, sink);
  }

  private Table table(int relid) {
    Table t = tables.get(relid);
    if (t == null) {
      throw new IllegalStateException(
          "pgoutput sent a change of relation " + relid + " before describing it");
    }
    return t;
  }

  private static Relation without(Relation r, BitSet unchanged) {
    List<String> columns = new ArrayList<>();
    for (int c = 0; c < r.columns().size(); c++) {
      if (!unchanged.get(c)) {
        columns.add(r.columns().get(c));
      }
    }
    if (!columns.containsAll(r.key())) {
      throw new IllegalStateException(
          "An update of " + r.table() + " left a key column out as an unchanged TOASTed value");
    }
    return new Relation(r.table(), columns, r.key());
  }

  private static List<String> key(Table t, List<Value> tuple) {
    String[] key = new String[t.keyIndexes.length];
    for (int k = 0; k < key.length; k++) {
      Value v = tuple.get(t.keyIndexes[k]);
      if (v.kind() != Value.Kind.TEXT) {
        throw new IllegalStateException(
            "A change of " + t.relation.table() + " came without its key column values");
      }
      key[k] = v.string();
    }
    return Arrays.asList(key);
  }

  /** Sends a row's change, its long values as pieces first. */
  private static void row(
      Operation op, Relation relation, List<Value> tuple, List<String> key, ChangeSink sink)
      throws Exception {
    String[] values = new String[tuple.size()];
    List<Integer> chunked = new ArrayList<>();
    long bytes = 64;
    for (int c = 0; c < values.length; c++) {
      Value v = tuple.get(c);
      if (v.kind() == Value.Kind.NULL) {
        continue;
      }
      if (v.text().remaining() > RelationCache.PIECE_CHARS && pieces(relation, c, v.text(), sink)) {
        chunked.add(c);
        continue;
      }
      values[c] = v.string();
      bytes += v.text().remaining();
    }
    sink.accept(new Change(op, relation, Arrays.asList(values), key, chunked), bytes);
  }

  /**
   * Sends a value as pieces of {@link RelationCache#PIECE_CHARS} characters, decoding its bytes a
   * piece at a time; false (nothing sent) when it turns out to fit in one piece.
   */
  private static boolean pieces(Relation relation, int column, ByteBuffer text, ChangeSink sink)
      throws Exception {
    ByteBuffer in = text.duplicate();
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder();
    CharBuffer piece = CharBuffer.allocate(RelationCache.PIECE_CHARS);
    boolean first = true;
    while (true) {
      CoderResult r = decoder.decode(in, piece, true);
      if (r.isError()) {
        r.throwException();
      }
      boolean done = r.isUnderflow();
      if (done) {
        decoder.flush(piece);
      }
      if (first && done) {
        return false;
      }
      first = false;
      piece.flip();
      if (piece.hasRemaining()) {
        sink.accept(Change.valuePart(relation, column, piece.toString()), piece.remaining());
      }
      piece.clear();
      if (done) {
        return true;
      }
    }
  }
}
