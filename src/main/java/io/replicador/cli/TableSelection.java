package io.replicador.cli;

import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import io.replicador.schema.TableCatalog;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Option;

/** {@code --tables} and {@code --schema}: which tables a command works on. */
final class TableSelection {
  @Option(
      names = "--tables",
      paramLabel = "S.T[,S.T...]",
      description = "Tables, comma-separated, in SQL spelling: public.users,\"Sales\".\"Q1\".")
  String tables;

  @Option(
      names = "--schema",
      paramLabel = "SCHEMA",
      description = "Every table of this schema (repeatable, or comma-separated).",
      split = ",")
  List<String> schemas = new ArrayList<>();

  boolean isEmpty() {
    return (tables == null || tables.isBlank()) && schemas.isEmpty();
  }

  /** The named tables, parsed; no catalog look-up. */
  List<TableName> named() {
    if (tables == null || tables.isBlank()) {
      return List.of();
    }
    try {
      return TableName.parseList(tables);
    } catch (IllegalArgumentException e) {
      throw new ConfigException("--tables: " + e.getMessage());
    }
  }

  /** The named tables plus every table of the named schemas. */
  List<TableName> resolve(Connection connection) throws SQLException {
    Set<TableName> all = new LinkedHashSet<>(named());
    TableCatalog catalog = new TableCatalog(connection);
    for (String schemaText : schemas) {
      String schema;
      try {
        schema = TableName.splitQualified(schemaText).get(0);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("--schema: " + e.getMessage());
      }
      List<TableName> found = catalog.tablesOfSchema(schema);
      if (found.isEmpty()) {
        throw new ConfigException(
            "Schema \"" + schema + "\" has no tables on the primary; check the name");
      }
      all.addAll(found);
    }
    return new ArrayList<>(all);
  }
}
