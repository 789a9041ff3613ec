package io.replicador.snapshot;

import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import io.replicador.schema.DefinitionReader;
import io.replicador.schema.SessionSettings;
import io.replicador.schema.TableDefinition;
import io.replicador.schema.UserType;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings the replica's schema to where the copy can start: checks every table that exists, then
 * creates the missing schemas, types and tables in one transaction. Nothing is created when any
 * existing table does not fit. Uses the caller's connection (prepared by {@link SessionSettings},
 * autocommit off); not thread-safe.
 */
public final class ReplicaSchema {
  private static final Logger log = LoggerFactory.getLogger(ReplicaSchema.class);

  private final Connection replica;

  public ReplicaSchema(Connection replica) {
    this.replica = replica;
  }

  /** Returns the tables it created. */
  public List<TableName> prepare(List<TableDefinition> tables, List<UserType> types)
      throws SQLException {
    DefinitionReader reader = new DefinitionReader(replica);
    List<TableDefinition> missing = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    for (TableDefinition primary : tables) {
      Optional<TableDefinition> existing = reader.table(primary.name());
      if (existing.isEmpty()) {
        missing.add(primary);
      } else {
        problems.addAll(TableCompatibility.problems(primary, existing.get()));
      }
    }
    List<UserType> toCreate = new ArrayList<>();
    for (UserType type : types) {
      OptionalLong oid = reader.findType(type.name());
      if (oid.isEmpty()) {
        toCreate.add(type);
      } else if (type.kind() == UserType.Kind.ENUM) {
        List<String> labels = reader.enumLabels(oid.getAsLong());
        List<String> absent = type.labels().stream().filter(l -> !labels.contains(l)).toList();
        if (!absent.isEmpty()) {
          problems.add(
              "enum "
                  + type.name()
                  + " on the replica lacks the labels "
                  + absent
                  + "; add them with ALTER TYPE ... ADD VALUE");
        }
      }
    }
    if (!problems.isEmpty()) {
      replica.rollback();
      throw new ConfigException(
          "The replica's tables do not match the primary's, nothing was copied: "
              + String.join("; ", problems));
    }
    if (missing.isEmpty() && toCreate.isEmpty()) {
      replica.commit();
      return List.of();
    }
    Set<String> schemas = new LinkedHashSet<>();
    toCreate.forEach(t -> schemas.add(t.name().schema()));
    missing.forEach(t -> schemas.add(t.name().schema()));
    try (Statement st = replica.createStatement()) {
      for (String schema : schemas) {
        st.execute(DdlWriter.createSchema(schema));
      }
      for (UserType type : toCreate) {
        log.info("Creating type {} on the replica", type.name());
        st.execute(DdlWriter.createType(type));
      }
      for (TableDefinition table : missing) {
        log.info("Creating table {} on the replica", table.name());
        st.execute(DdlWriter.createTable(table));
      }
      replica.commit();
    } catch (SQLException e) {
      replica.rollback();
      throw e;
    }
    return missing.stream().map(TableDefinition::name).toList();
  }
}
