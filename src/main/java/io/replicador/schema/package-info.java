/**
 * Catalog introspection: table names, columns, keys, types and definitions as PostgreSQL's catalogs
 * describe them, the text form of rows, and the session settings that make text forms exact.
 * Depends on change and config.
 */
package io.replicador.schema;
