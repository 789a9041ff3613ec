package io.replicador.schema;

import io.replicador.change.TableName;
import java.util.List;

/**
 * A table as the primary defines it: columns in attribute order and the primary key.
 *
 * @param partitioned whether the primary's table is partitioned (it is copied with a query and
 *     created as a plain table on the replica)
 */
public record TableDefinition(
    TableName name, List<ColumnDefinition> columns, List<String> key, boolean partitioned) {

  public TableDefinition {
    columns = List.copyOf(columns);
    key = List.copyOf(key);
  }

  /** The columns that carry data: generated columns are computed by the replica itself. */
  public List<ColumnDefinition> copiedColumns() {
    return columns.stream().filter(c -> !c.generated()).toList();
  }
}
