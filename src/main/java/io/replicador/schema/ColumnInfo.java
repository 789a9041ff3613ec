package io.replicador.schema;

/**
 * A table column as the catalog describes it.
 *
 * @param type the SQL type as {@code format_type} prints it
 * @param identity {@code pg_attribute.attidentity}: 'a' always, 'd' by default, 0 none
 * @param generated whether the column is {@code GENERATED ALWAYS AS (...) STORED}
 */
public record ColumnInfo(String name, String type, char identity, boolean generated) {
  public boolean identityAlways() {
    return identity == 'a';
  }
}
