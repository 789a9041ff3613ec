package io.replicador.schema;

/**
 * A column as the primary defines it, in the spelling needed to recreate it.
 *
 * @param type the type as {@code format_type} prints it with {@code search_path = pg_catalog} (so
 *     every type outside pg_catalog is schema-qualified)
 * @param collation a qualified collation name when it differs from the type's, else null
 * @param defaultExpression the default when it refers to no other object (so it can be recreated as
 *     is), else null
 * @param identity {@code attidentity}: 'a' always, 'd' by default, 0 none
 * @param generatedExpression the expression of a {@code GENERATED ALWAYS AS (...) STORED} column,
 *     else null
 * @param typeOid the type's oid on the primary (for finding the user types it needs)
 */
public record ColumnDefinition(
    String name,
    String type,
    String collation,
    boolean notNull,
    String defaultExpression,
    char identity,
    String generatedExpression,
    long typeOid) {

  public boolean generated() {
    return generatedExpression != null;
  }
}
