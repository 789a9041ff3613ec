package io.replicador.change;

import java.util.Arrays;
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
 *     for a value part, the one piece; for a DDL change, its statement and search_path
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

  /**
   * A schema change: the statement as the primary ran it, to be run on a replica with the same
   * search_path, before the changes that follow it. Its relation names the table it concerns (the
   * old name of a renamed table, the new table of a CREATE TABLE), with no columns: a replica that
   * does not take that table skips it.
   *
   * @param searchPath the primary session's search_path when the statement ran
   */
  public static Change ddl(TableName table, String statement, String searchPath) {
    return new Change(
        Operation.DDL,
        new Relation(table, List.of(), List.of()),
        Arrays.asList(statement, searchPath),
        List.of());
  }

  /** The statement of a {@link Operation#DDL} change. */
  public String statement() {
    return values.get(0);
  }

  /** The search_path a {@link Operation#DDL} change's statement ran with. */
  public String searchPath() {
    return values.get(1);
  }

  public TableName table() {
    return relation.table();
  }
}
