package io.replicador.schema;

import java.util.List;

/**
 * What a replica table needs, besides its columns and primary key, to serve reads as the primary's
 * does: statements that recreate the primary's sequences behind column defaults (and their values),
 * those defaults, its secondary indexes, its unique, check and exclusion constraints, and (applied
 * last, when asked for) its foreign keys. Each is one SQL statement with every name qualified.
 * Immutable.
 */
public record TableExtras(
    List<String> sequences,
    List<String> indexes,
    List<String> constraints,
    List<String> foreignKeys) {
  public TableExtras {
    sequences = List.copyOf(sequences);
    indexes = List.copyOf(indexes);
    constraints = List.copyOf(constraints);
    foreignKeys = List.copyOf(foreignKeys);
  }

  /** The statements but the foreign keys, in the order they can run. */
  public List<String> beforeForeignKeys() {
    List<String> all = new java.util.ArrayList<>(sequences);
    all.addAll(indexes);
    all.addAll(constraints);
    return all;
  }
}
