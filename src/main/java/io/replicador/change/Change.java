package io.replicador.change;

import java.util.Collections;
import java.util.List;

/**
 * One row change. Values are PostgreSQL text forms (what the type's output function prints), null
 * for SQL NULL.
 *
 * @param values the new row, aligned with {@link Relation#columns()}; empty for delete/truncate
 * @param key the old row's key values, aligned with {@link Relation#key()}; empty for insert and
 *     truncate
 */
public record Change(Operation op, Relation relation, List<String> values, List<String> key) {
  public Change {
    values = Collections.unmodifiableList(values);
    key = Collections.unmodifiableList(key);
  }

  public TableName table() {
    return relation.table();
  }
}
