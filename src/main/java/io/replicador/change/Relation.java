package io.replicador.change;

import java.util.List;

/**
 * A table as a change message describes it: its name, the columns whose values the changes carry
 * (in that order) and the primary-key columns that identify a row.
 */
public record Relation(TableName table, List<String> columns, List<String> key) {
  public Relation {
    columns = List.copyOf(columns);
    key = List.copyOf(key);
  }
}
