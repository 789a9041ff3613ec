package io.replicador.store;

import io.replicador.change.Operation;
import io.replicador.change.TableName;

/**
 * One changelog row as stored on the primary.
 *
 * @param relid the relation the row was written to (a partition, for partitioned tables)
 * @param table the captured table the change is reported under
 * @param newRow the new row's text form, null for delete and truncate, and when it is large
 * @param oldRow the old row's text form, null for insert and truncate, and when it is large
 * @param entryId the changelog row's id
 * @param element the row's place (from 1) among the rows one entry holds, or 0
 * @param largeNew whether the new row is too large to be read whole: {@link LargeRowReader}
 * @param largeOld whether the old row is
 */
public record ChangeLogRow(
    String txid,
    long relid,
    TableName table,
    Operation op,
    String newRow,
    String oldRow,
    long entryId,
    long element,
    boolean largeNew,
    boolean largeOld) {

  /** Whether some of the row's text must be streamed rather than read whole. */
  public boolean large() {
    return largeNew || largeOld;
  }

  /** Rough size in bytes, for bounding messages. */
  public long approximateBytes() {
    return 64 + (newRow == null ? 0 : newRow.length()) + (oldRow == null ? 0 : oldRow.length());
  }
}
