package io.replicador.publish;

import io.replicador.change.Change;
import io.replicador.change.Relation;
import io.replicador.change.TableName;
import io.replicador.schema.ColumnInfo;
import io.replicador.schema.RecordText;
import io.replicador.schema.TableCatalog;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Turns changelog rows into {@link Change}s, using the primary's catalog to name the fields of
 * each stored row. Catalog answers are cached briefly; a row whose field count does not match the
 * cached columns forces a fresh look. Not thread-safe.
 */
public final class RelationCache {
  private static final Duration TTL = Duration.ofSeconds(2);

  private final TableCatalog catalog;
  private final Clock clock;
  private final Map<Key, Entry> entries = new HashMap<>();

  public RelationCache(TableCatalog catalog, Clock clock) {
    this.catalog = catalog;
    this.clock = clock;
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
    };
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
      throw new IllegalStateException(
          "A change to " + row.table() + " (transaction " + row.txid() + ") has " + fieldCount
              + " values but the table now has " + e.fieldCount + " columns: its columns were"
              + " changed while changes were waiting to ship. Restore the columns, or remove"
              + " the waiting changes and re-snapshot the replicas");
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
                        "Table " + key.table + " has changes waiting but no longer exists on the"
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
