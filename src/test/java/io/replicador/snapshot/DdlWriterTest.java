package io.replicador.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.change.TableName;
import io.replicador.schema.ColumnDefinition;
import io.replicador.schema.TableDefinition;
import io.replicador.schema.UserType;
import java.util.List;
import org.junit.jupiter.api.Test;

class DdlWriterTest {
  private static ColumnDefinition column(String name, String type) {
    return new ColumnDefinition(name, type, null, false, null, (char) 0, null, 0);
  }

  @Test
  void createsTableWithQuotedNamesIdentityGeneratedDefaultsAndKey() {
    TableDefinition t =
        new TableDefinition(
            TableName.of("Sales Data", "Odd \"Table\""),
            List.of(
                new ColumnDefinition("id", "bigint", null, true, null, 'a', null, 0),
                new ColumnDefinition(
                    "Key Two", "text", "pg_catalog.\"C\"", true, null, (char) 0, null, 0),
                new ColumnDefinition(
                    "amount", "numeric(10,2)", null, false, "0", (char) 0, null, 0),
                new ColumnDefinition("twice", "bigint", null, false, null, (char) 0, "(id * 2)", 0),
                column("select", "public.mood[]")),
            List.of("id", "Key Two"),
            false);
    assertThat(DdlWriter.createTable(t))
        .isEqualTo(
            "CREATE TABLE \"Sales Data\".\"Odd \"\"Table\"\"\" (\"id\" bigint GENERATED ALWAYS AS"
                + " IDENTITY NOT NULL, \"Key Two\" text COLLATE pg_catalog.\"C\" NOT NULL,"
                + " \"amount\" numeric(10,2) DEFAULT 0, \"twice\" bigint GENERATED ALWAYS AS"
                + " ((id * 2)) STORED, \"select\" public.mood[], PRIMARY KEY (\"id\", \"Key Two\"))");
    assertThat(t.copiedColumns())
        .extracting(ColumnDefinition::name)
        .containsExactly("id", "Key Two", "amount", "select");
  }

  @Test
  void createsEnumsDomainsAndCompositesWithLiteralsQuoted() {
    assertThat(
            DdlWriter.createType(
                new UserType(
                    UserType.Kind.ENUM,
                    TableName.of("public", "mood"),
                    List.of("it's", "ok"),
                    null,
                    false,
                    null,
                    List.of(),
                    List.of())))
        .isEqualTo("CREATE TYPE \"public\".\"mood\" AS ENUM ('it''s', 'ok')");
    assertThat(
            DdlWriter.createType(
                new UserType(
                    UserType.Kind.DOMAIN,
                    TableName.of("public", "positive"),
                    List.of(),
                    "numeric(12,2)",
                    true,
                    "1",
                    List.of("CONSTRAINT \"positive_check\" CHECK ((VALUE >= (0)::numeric))"),
                    List.of())))
        .isEqualTo(
            "CREATE DOMAIN \"public\".\"positive\" AS numeric(12,2) DEFAULT 1 NOT NULL"
                + " CONSTRAINT \"positive_check\" CHECK ((VALUE >= (0)::numeric))");
    assertThat(
            DdlWriter.createType(
                new UserType(
                    UserType.Kind.COMPOSITE,
                    TableName.of("public", "address"),
                    List.of(),
                    null,
                    false,
                    null,
                    List.of(),
                    List.of("\"street\" text", "\"zip\" integer"))))
        .isEqualTo("CREATE TYPE \"public\".\"address\" AS (\"street\" text, \"zip\" integer)");
  }
}
