package io.replicador.schema;

import io.replicador.change.Identifiers;
import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Reads table and type definitions from a database's catalog. Expects a session prepared by {@link
 * SessionSettings} (so type names come schema-qualified). Uses the caller's connection; not
 * thread-safe.
 */
public final class DefinitionReader {
  private static final String COLUMNS =
      """
      SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity::text,
             a.attgenerated::text, pg_get_expr(ad.adbin, ad.adrelid),
             ad.oid IS NOT NULL AND EXISTS (
                 SELECT 1 FROM pg_depend d
                 WHERE d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                   AND NOT (d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid)
                   AND d.refclassid <> 'pg_type'::regclass),
             CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN
                 (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                  FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                  WHERE co.oid = a.attcollation) END,
             a.atttypid::int8
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      WHERE a.attrelid = ?::int8::oid AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum
      """;

  private final Connection connection;

  public DefinitionReader(Connection connection) {
    this.connection = connection;
  }

  /** The table's definition, or empty when it does not exist. */
  public Optional<TableDefinition> table(TableName name) throws SQLException {
    Optional<TableCatalog.TableRef> ref = new TableCatalog(connection).find(name);
    if (ref.isEmpty() || (ref.get().kind() != 'r' && ref.get().kind() != 'p')) {
      return Optional.empty();
    }
    long oid = ref.get().oid();
    char kind = ref.get().kind();
    List<ColumnDefinition> columns = new ArrayList<>();
    try (PreparedStatement ps = connection.prepareStatement(COLUMNS)) {
      ps.setLong(1, oid);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String identity = rs.getString(4);
          boolean generated = "s".equals(rs.getString(5));
          String expr = rs.getString(6);
          boolean refersElsewhere = rs.getBoolean(7);
          if (generated && refersElsewhere) {
            throw new ConfigException(
                "Column \""
                    + rs.getString(1)
                    + "\" of "
                    + name
                    + " is generated from an"
                    + " expression that uses other objects ("
                    + expr
                    + "); create the table on"
                    + " the replica yourself and run snapshot again");
          }
          columns.add(
              new ColumnDefinition(
                  rs.getString(1),
                  rs.getString(2),
                  rs.getString(8),
                  rs.getBoolean(3),
                  generated || refersElsewhere ? null : expr,
                  identity == null || identity.isEmpty() ? 0 : identity.charAt(0),
                  generated ? expr : null,
                  rs.getLong(9)));
        }
      }
    }
    return Optional.of(
        new TableDefinition(
            name, columns, new TableCatalog(connection).primaryKey(oid), kind == 'p'));
  }

  /**
   * The sequences behind column defaults (with their current values), secondary indexes, and
   * constraints other than the primary key and NOT NULL, of an existing table, as statements that
   * recreate them on a replica table of the same name created without them.
   */
  public TableExtras extras(TableName name) throws SQLException {
    long oid =
        new TableCatalog(connection)
            .find(name)
            .orElseThrow(() -> new ConfigException("Table " + name + " does not exist"))
            .oid();
    List<String> sequences = new ArrayList<>();
    // a default that takes values from a sequence (serial, or nextval written by hand)
    try (PreparedStatement ps =
        connection.prepareStatement(
            """
            SELECT a.attname, pg_get_expr(ad.adbin, ad.adrelid), d.refobjid::regclass::text,
                   format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart,
                   s.seqcache, s.seqcycle,
                   CASE WHEN has_sequence_privilege(d.refobjid, 'SELECT')
                        THEN pg_sequence_last_value(d.refobjid) END,
                   quote_ident(sn.nspname),
                   EXISTS (SELECT 1 FROM pg_depend o WHERE o.classid = 'pg_class'::regclass
                           AND o.objid = d.refobjid AND o.deptype = 'a'
                           AND o.refobjid = a.attrelid AND o.refobjsubid = a.attnum)
            FROM pg_attrdef ad
            JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
            JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                 AND d.refclassid = 'pg_class'::regclass
            JOIN pg_sequence s ON s.seqrelid = d.refobjid
            JOIN pg_class sc ON sc.oid = s.seqrelid
            JOIN pg_namespace sn ON sn.oid = sc.relnamespace
            WHERE ad.adrelid = ?::int8::oid AND a.attidentity = '' AND a.attgenerated = ''
            ORDER BY a.attnum
            """)) {
      ps.setLong(1, oid);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String column = Identifiers.quote(rs.getString(1));
          String sequence = rs.getString(3);
          sequences.add("CREATE SCHEMA IF NOT EXISTS " + rs.getString(12));
          sequences.add(
              "CREATE SEQUENCE IF NOT EXISTS "
                  + sequence
                  + " AS "
                  + rs.getString(4)
                  + " INCREMENT BY "
                  + rs.getLong(5)
                  + " MINVALUE "
                  + rs.getLong(6)
                  + " MAXVALUE "
                  + rs.getLong(7)
                  + " START WITH "
                  + rs.getLong(8)
                  + " CACHE "
                  + rs.getLong(9)
                  + (rs.getBoolean(10) ? " CYCLE" : " NO CYCLE"));
          long last = rs.getLong(11);
          if (!rs.wasNull()) {
            sequences.add("SELECT setval('" + sequence.replace("'", "''") + "', " + last + ")");
          }
          sequences.add(
              "ALTER TABLE "
                  + name.quoted()
                  + " ALTER COLUMN "
                  + column
                  + " SET DEFAULT "
                  + rs.getString(2));
          if (rs.getBoolean(13)) {
            sequences.add(
                "ALTER SEQUENCE " + sequence + " OWNED BY " + name.quoted() + "." + column);
          }
        }
      }
    }
    List<String> indexes = new ArrayList<>();
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
                + " WHERE i.indrelid = ?::int8::oid AND NOT i.indisprimary"
                + " AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
                + " WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)"
                + " ORDER BY i.indexrelid")) {
      ps.setLong(1, oid);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          indexes.add(
              rs.getString(1)
                  .replaceFirst("^CREATE (UNIQUE )?INDEX ", "CREATE $1INDEX IF NOT EXISTS "));
        }
      }
    }
    List<String> constraints = new ArrayList<>();
    List<String> foreignKeys = new ArrayList<>();
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT conname, pg_get_constraintdef(oid), contype::text FROM pg_constraint"
                + " WHERE conrelid = ?::int8::oid AND contype IN ('u', 'c', 'x', 'f')"
                + " AND conislocal ORDER BY contype, conname")) {
      ps.setLong(1, oid);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String sql =
              "ALTER TABLE "
                  + name.quoted()
                  + " ADD CONSTRAINT "
                  + Identifiers.quote(rs.getString(1))
                  + " "
                  + rs.getString(2);
          (rs.getString(3).equals("f") ? foreignKeys : constraints).add(sql);
        }
      }
    }
    return new TableExtras(sequences, indexes, constraints, foreignKeys);
  }

  /**
   * The user types the tables' columns need, dependencies first (a domain after its base type, a
   * composite after its attributes' types). Types of extensions and range types are not recreated:
   * they must exist on the replica.
   */
  public List<UserType> typesFor(List<TableDefinition> tables) throws SQLException {
    Map<Long, UserType> ordered = new LinkedHashMap<>();
    for (TableDefinition t : tables) {
      for (ColumnDefinition c : t.columns()) {
        visit(c.typeOid(), ordered, new ArrayList<>());
      }
    }
    List<UserType> out = new ArrayList<>();
    for (UserType u : ordered.values()) {
      if (u != null) {
        out.add(u);
      }
    }
    return out;
  }

  private void visit(long oid, Map<Long, UserType> done, List<Long> path) throws SQLException {
    if (done.containsKey(oid) || path.contains(oid)) {
      return;
    }
    path.add(oid);
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT t.typtype::text, n.nspname, t.typname, t.typelem::int8, t.typbasetype::int8,"
                + " t.typrelid::int8, t.typcategory::text, t.typnotnull,"
                + " format_type(t.typbasetype, t.typtypmod), t.typdefault"
                + " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                + " WHERE t.oid = ?::int8::oid")) {
      ps.setLong(1, oid);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return;
        }
        String typtype = rs.getString(1);
        TableName name = TableName.of(rs.getString(2), rs.getString(3));
        long elem = rs.getLong(4);
        long base = rs.getLong(5);
        long relid = rs.getLong(6);
        boolean array = "A".equals(rs.getString(7)) && elem != 0;
        boolean builtin =
            name.schema().equals("pg_catalog") || name.schema().equals("information_schema");
        if (array) {
          visit(elem, done, path);
          done.put(oid, null);
          return;
        }
        if (builtin) {
          done.put(oid, null);
          return;
        }
        switch (typtype) {
          case "e" -> done.put(oid, enumType(oid, name));
          case "d" -> {
            visit(base, done, path);
            done.put(
                oid,
                new UserType(
                    UserType.Kind.DOMAIN,
                    name,
                    List.of(),
                    rs.getString(9),
                    rs.getBoolean(8),
                    rs.getString(10),
                    domainChecks(oid),
                    List.of()));
          }
          case "c" -> {
            List<String> attributes = new ArrayList<>();
            for (long attType : compositeAttributeTypes(relid, attributes)) {
              visit(attType, done, path);
            }
            done.put(
                oid,
                new UserType(
                    UserType.Kind.COMPOSITE,
                    name,
                    List.of(),
                    null,
                    false,
                    null,
                    List.of(),
                    attributes));
          }
          default -> done.put(oid, null); // extension base types, ranges: must exist already
        }
      }
    } finally {
      path.remove(path.size() - 1);
    }
  }

  private UserType enumType(long oid, TableName name) throws SQLException {
    return new UserType(
        UserType.Kind.ENUM, name, enumLabels(oid), null, false, null, List.of(), List.of());
  }

  public List<String> enumLabels(long oid) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT enumlabel FROM pg_enum WHERE enumtypid = ?::int8::oid ORDER BY enumsortorder")) {
      ps.setLong(1, oid);
      List<String> labels = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          labels.add(rs.getString(1));
        }
      }
      return labels;
    }
  }

  private List<String> domainChecks(long oid) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                + " WHERE contypid = ?::int8::oid AND contype = 'c' ORDER BY conname")) {
      ps.setLong(1, oid);
      List<String> checks = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          checks.add("CONSTRAINT " + Identifiers.quote(rs.getString(1)) + " " + rs.getString(2));
        }
      }
      return checks;
    }
  }

  private List<Long> compositeAttributeTypes(long relid, List<String> attributes)
      throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT attname, format_type(atttypid, atttypmod), atttypid::int8 FROM pg_attribute"
                + " WHERE attrelid = ?::int8::oid AND attnum > 0 AND NOT attisdropped"
                + " ORDER BY attnum")) {
      ps.setLong(1, relid);
      List<Long> types = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          attributes.add(Identifiers.quote(rs.getString(1)) + " " + rs.getString(2));
          types.add(rs.getLong(3));
        }
      }
      return types;
    }
  }

  /** The oid of an existing type, if it exists. */
  public OptionalLong findType(TableName name) throws SQLException {
    try (PreparedStatement ps =
        connection.prepareStatement(
            "SELECT t.oid::int8 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                + " WHERE n.nspname = ? AND t.typname = ?")) {
      ps.setString(1, name.schema());
      ps.setString(2, name.name());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? OptionalLong.of(rs.getLong(1)) : OptionalLong.empty();
      }
    }
  }
}
