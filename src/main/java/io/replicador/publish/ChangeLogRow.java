package io.replicador.publish;

import io.replicador.change.Operation;
import io.replicador.change.TableName;

/**
 * One changelog row as stored on the primary.
 *
 * @param relid the relation the row was written to (a partition, for partitioned tables)
 * @param table the captured table the change is reported under
 * @param newRow the new row's text form, null for delete and truncate
 * @param oldRow the old row's text form, null for insert and truncate
 */
public record ChangeLogRow(
    String txid, long relid, TableName table, Operation op, String newRow, String oldRow) {

  /** Rough size in bytes, for bounding messages. */
  public long approximateBytes() {
    return 64 + (newRow == null ? 0 : newRow.length()) + (oldRow == null ? 0 : oldRow.length());
  }
}
