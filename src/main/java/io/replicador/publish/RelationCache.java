package io.replicador.publish;

import io.replicador.change.Change;
import io.replicador.change.Operation;
import io.replicador.change.Relation;
import io.replicador.change.TableName;
import io.replicador.schema.ColumnInfo;
import io.replicador.schema.RecordText;
import io.replicador.schema.RecordTextReader;
import io.replicador.schema.TableCatalog;
import io.replicador.store.ChangeLogRow;
import io.replicador.store.LargeRowReader;
import java.io.Reader;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Turns changelog rows into {@link Change}s, using the primary's catalog to name the fields of each
 * stored row. Catalog answers are cached briefly; a row whose field count does not match the cached
 * columns forces a fresh look. Not thread-safe.
 */
public final class RelationCache {
  private static final Duration TTL = Duration.ofSeconds(2);

  /**
   * A value longer than this (in characters) is sent as pieces of about this length, several to a
   * message (see MessageAssembler).
   */
  static final int PIECE_CHARS = 256 * 1024;

  private final TableCatalog catalog;
  private final Clock clock;
  private final Map<Key, Entry> entries = new HashMap<>();

  public RelationCache(TableCatalog catalog, Clock clock) {
    this.catalog = catalog;
    this.clock = clock;
  }

  /** Forgets every table's description: the next row of each is described afresh. */
  public void forget() {
    entries.clear();
  }

  public Change toChange(ChangeLogRow row) throws SQLException {
    return switch (row.op()) {
      case INSERT -> {
        List<String> fields = RecordText.parse(row.newRow());
        Entry e = entry(row, fields.size());
        yield new Change(row.op(), e.relation, e.values(fields), List.of());
      }
      case UPDATE -> {
        List<String> fields = RecordText.parse(row.newRow());
        Entry e = entry(row, fields.size());
        List<String> old = RecordText.parse(row.oldRow());
        yield new Change(row.op(), e.relation, e.values(fields), e.key(old));
      }
      case DELETE -> {
        List<String> old = RecordText.parse(row.oldRow());
        Entry e = entry(row, old.size());
        yield new Change(row.op(), e.relation, List.of(), e.key(old));
      }
      case TRUNCATE -> new Change(row.op(), entry(row, -1).relation, List.of(), List.of());
      case VALUE -> throw new IllegalStateException("The changelog holds no value pieces");
      case DDL -> {
        // The changes after it have the table's new shape (ddl waited for the old rows to ship):
        // describe them afresh, not from what was read before the change.
        forget();
        yield Change.ddl(row.table(), row.newRow(), row.oldRow() == null ? "" : row.oldRow());
      }
    };
  }

  /** Receives a change and its approximate size in bytes. */
  @FunctionalInterface
  public interface ChangeSink {
    void accept(Change change, long bytes) throws Exception;
  }

  /**
   * Turns a changelog row with large text ({@link ChangeLogRow#large}) into changes, streaming it:
   * a value longer than {@link #PIECE_CHARS} goes to {@code sink} as value pieces, in order, before
   * the change that lists it as chunked. Nothing of the row is held whole.
   */
  public void toChanges(ChangeLogRow row, LargeRowReader reader, ChangeSink sink) throws Exception {
    Entry e = entry(row, -1);
    List<String> values = List.of();
    List<Integer> chunked = new ArrayList<>();
    if (row.op() == Operation.INSERT || row.op() == Operation.UPDATE) {
      values =
          row.largeNew()
              ? streamed(row, e, LargeRowReader.Text.NEW, e.valueIndexes, chunked, reader, sink)
              : e.values(fields(row, e, row.newRow()));
    }
    List<String> key = List.of();
    if (row.op() == Operation.UPDATE || row.op() == Operation.DELETE) {
      key =
          row.largeOld()
              ? streamed(row, e, LargeRowReader.Text.OLD, e.keyIndexes, null, reader, sink)
              : e.key(fields(row, e, row.oldRow()));
    }
    sink.accept(new Change(row.op(), e.relation, values, key, chunked), 64);
  }

  private static List<String> fields(ChangeLogRow row, Entry e, String text) {
    List<String> fields = RecordText.parse(text);
    requireFieldCount(row, e, fields.size());
    return fields;
  }

  /**
   * The fields at {@code indexes} of a row's text, streamed; with {@code chunked}, long values go
   * to the sink as pieces and their columns into {@code chunked}.
   */
  private static List<String> streamed(
      ChangeLogRow row,
      Entry e,
      LargeRowReader.Text which,
      int[] indexes,
      List<Integer> chunked,
      LargeRowReader reader,
      ChangeSink sink)
      throws Exception {
    String[] out = new String[indexes.length];
    int fields;
    try (Reader text = reader.open(row.entryId(), row.element(), which)) {
      fields =
          RecordTextReader.read(
              text, new Pieces(e.relation, inverse(indexes, e.fieldCount), out, chunked, sink));
    }
    requireFieldCount(row, e, fields);
    return Arrays.asList(out);
  }

  /** Field index to the place it fills, or -1: the inverse of {@code indexes}. */
  private static int[] inverse(int[] indexes, int fieldCount) {
    int[] place = new int[fieldCount];
    Arrays.fill(place, -1);
    for (int i = 0; i < indexes.length; i++) {
      place[indexes[i]] = i;
    }
    return place;
  }

  private static void requireFieldCount(ChangeLogRow row, Entry e, int fields) {
    if (fields != e.fieldCount) {
      throw columnsChanged(row, fields, e.fieldCount);
    }
  }

  private static IllegalStateException columnsChanged(ChangeLogRow row, int fields, int columns) {
    return new IllegalStateException(
        "A change to "
            + row.table()
            + " (transaction "
            + row.txid()
            + ") has "
            + fields
            + " values but the table now has "
            + columns
            + " columns: its columns were"
            + " changed while changes were waiting to ship. Restore the columns, or remove"
            + " the waiting changes and re-snapshot the replicas");
  }

  /**
   * Collects the fields a row's change needs into {@code out}; with {@code chunked}, sends each
   * value that grows past {@link #PIECE_CHARS} on as pieces instead of keeping it. Fields without a
   * place (generated columns, non-key columns of an old row) are dropped as they stream by.
   */
  private static final class Pieces implements RecordTextReader.FieldSink {
    private final Relation relation;
    private final int[] place;
    private final String[] out;
    private final List<Integer> chunked;
    private final ChangeSink sink;
    private final StringBuilder current = new StringBuilder();
    private boolean inPieces;

    Pieces(Relation relation, int[] place, String[] out, List<Integer> chunked, ChangeSink sink) {
      this.relation = relation;
      this.place = place;
      this.out = out;
      this.chunked = chunked;
      this.sink = sink;
    }

    private int placeOf(int field) {
      if (field >= place.length) {
        return -1; // more fields than columns: found out and reported at the end
      }
      return place[field];
    }

    @Override
    public void chars(int field, char[] chars, int offset, int length) throws Exception {
      int at = placeOf(field);
      if (at < 0) {
        return;
      }
      current.append(chars, offset, length);
      if (chunked != null && current.length() >= PIECE_CHARS) {
        sink.accept(Change.valuePart(relation, at, current.toString()), current.length());
        current.setLength(0);
        inPieces = true;
      }
    }

    @Override
    public void end(int field, boolean sqlNull) throws Exception {
      int at = placeOf(field);
      if (at < 0) {
        return;
      }
      if (inPieces) {
        if (current.length() > 0) {
          sink.accept(Change.valuePart(relation, at, current.toString()), current.length());
        }
        chunked.add(at);
        out[at] = null;
        inPieces = false;
      } else {
        out[at] = sqlNull ? null : current.toString();
      }
      current.setLength(0);
    }
  }

  private Entry entry(ChangeLogRow row, int fieldCount) throws SQLException {
    Key key = new Key(row.relid(), row.table());
    Entry e = entries.get(key);
    Instant now = clock.instant();
    boolean stale = e == null || now.isAfter(e.loadedAt.plus(TTL));
    if (stale || (fieldCount >= 0 && fieldCount != e.fieldCount)) {
      e = load(key, now);
      entries.put(key, e);
    }
    if (fieldCount >= 0 && fieldCount != e.fieldCount) {
      throw columnsChanged(row, fieldCount, e.fieldCount);
    }
    return e;
  }

  private Entry load(Key key, Instant now) throws SQLException {
    List<ColumnInfo> columns = catalog.columns(key.relid);
    long targetOid =
        catalog
            .find(key.table)
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "Table "
                            + key.table
                            + " has changes waiting but no longer exists on the"
                            + " primary; its changes cannot be described"))
            .oid();
    List<String> keyColumns = catalog.primaryKey(targetOid);
    if (keyColumns.isEmpty()) {
      throw new IllegalStateException(
          "Table " + key.table + " has lost its primary key; add it back so its changes ship");
    }
    List<String> names = new ArrayList<>();
    List<Integer> valueIndexes = new ArrayList<>();
    for (int i = 0; i < columns.size(); i++) {
      if (!columns.get(i).generated()) { // the replica computes generated columns itself
        names.add(columns.get(i).name());
        valueIndexes.add(i);
      }
    }
    int[] keyIndexes = new int[keyColumns.size()];
    for (int k = 0; k < keyColumns.size(); k++) {
      keyIndexes[k] = indexOf(columns, keyColumns.get(k), key.table);
    }
    Relation relation = new Relation(key.table, names, keyColumns);
    return new Entry(
        relation,
        columns.size(),
        valueIndexes.stream().mapToInt(Integer::intValue).toArray(),
        keyIndexes,
        now);
  }

  private static int indexOf(List<ColumnInfo> columns, String name, TableName table) {
    for (int i = 0; i < columns.size(); i++) {
      if (columns.get(i).name().equals(name)) {
        return i;
      }
    }
    throw new IllegalStateException("Key column " + name + " of " + table + " not found");
  }

  private record Key(long relid, TableName table) {
    Key {
      Objects.requireNonNull(table);
    }
  }

  private record Entry(
      Relation relation, int fieldCount, int[] valueIndexes, int[] keyIndexes, Instant loadedAt) {
    List<String> values(List<String> fields) {
      return pick(fields, valueIndexes);
    }

    List<String> key(List<String> fields) {
      return pick(fields, keyIndexes);
    }

    private static List<String> pick(List<String> fields, int[] indexes) {
      String[] out = new String[indexes.length];
      for (int i = 0; i < indexes.length; i++) {
        out[i] = fields.get(indexes[i]);
      }
      return Collections.unmodifiableList(java.util.Arrays.asList(out));
    }
  }
}
