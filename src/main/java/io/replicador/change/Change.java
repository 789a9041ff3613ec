package io.replicador.change;

import java.util.Collections;
import java.util.List;

/**
 * One row change. Values are PostgreSQL text forms (what the type's output function prints), null
 * for SQL NULL.
 *
 * <p>A value too large for one message travels ahead of its change, in order, as {@link
 * Operation#VALUE} changes that each carry a piece of its text ({@link #valuePart}); the change
 * then has null at that column and lists it in {@code chunked}. Whoever reads the stream joins the
 * pieces, never needing the whole value in memory at once.
 *
 * @param values the new row, aligned with {@link Relation#columns()}; empty for delete/truncate;
 *     for a value part, the one piece
 * @param key the old row's key values, aligned with {@link Relation#key()}; empty for insert and
 *     truncate
 * @param chunked indexes of the columns whose values came as value parts before this change (for a
 *     value part: the one column it belongs to); ascending
 */
public record Change(
    Operation op, Relation relation, List<String> values, List<String> key, List<Integer> chunked) {
  public Change {
    values = Collections.unmodifiableList(values);
    key = Collections.unmodifiableList(key);
    chunked = List.copyOf(chunked);
  }

  public Change(Operation op, Relation relation, List<String> values, List<String> key) {
    this(op, relation, values, key, List.of());
  }

  /** A piece of the text of column {@code column}'s value of the change that follows. */
  public static Change valuePart(Relation relation, int column, String piece) {
    return new Change(
        Operation.VALUE, relation, Collections.singletonList(piece), List.of(), List.of(column));
  }

  public TableName table() {
    return relation.table();
  }
}
