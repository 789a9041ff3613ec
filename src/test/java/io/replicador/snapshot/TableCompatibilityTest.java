package io.replicador.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.change.TableName;
import io.replicador.schema.ColumnDefinition;
import io.replicador.schema.TableDefinition;
import java.util.List;
import org.junit.jupiter.api.Test;

class TableCompatibilityTest {
  private static final TableName T = TableName.of("public", "t");

  private static ColumnDefinition col(String name, String type, boolean notNull) {
    return new ColumnDefinition(name, type, null, notNull, null, (char) 0, null, 0);
  }

  private static TableDefinition table(List<String> key, ColumnDefinition... columns) {
    return new TableDefinition(T, List.of(columns), key, false);
  }

  @Test
  void sameColumnsInAnotherOrderFit() {
    TableDefinition primary =
        table(List.of("id"), col("id", "integer", true), col("v", "text", false));
    TableDefinition replica =
        table(
            List.of("id"),
            col("v", "text", false),
            col("id", "integer", true),
            col("extra", "text", false));
    assertThat(TableCompatibility.problems(primary, replica)).isEmpty();
  }

  @Test
  void namesEveryMismatch() {
    TableDefinition primary =
        table(
            List.of("id"),
            col("id", "integer", true),
            col("v", "text", false),
            col("w", "bigint", false));
    TableDefinition replica =
        table(
            List.of("v"),
            col("id", "bigint", true),
            col("v", "text", true),
            col("own", "text", true));
    assertThat(TableCompatibility.problems(primary, replica))
        .containsExactly(
            "column \"id\" of replica table \"public\".\"t\" is bigint but integer on the primary;"
                + " change its type to integer",
            "replica table \"public\".\"t\" has no column \"w\" (bigint); add it or drop the table"
                + " so snapshot creates it",
            "column \"own\" of replica table \"public\".\"t\" exists only on the replica and is NOT"
                + " NULL without a default; give it a default or drop it",
            "replica table \"public\".\"t\" has primary key [v] but the primary [id]; give it the"
                + " same primary key");
  }
}
