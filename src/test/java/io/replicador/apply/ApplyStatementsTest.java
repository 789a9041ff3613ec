package io.replicador.apply;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.change.TableName;
import java.util.List;
import org.junit.jupiter.api.Test;

class ApplyStatementsTest {
  private static final TableName ODD = TableName.of("Sales Data", "Odd \"Table\" Name");

  @Test
  void upsertQuotesEveryIdentifierAndUpdatesNonKeyColumns() {
    String sql = ApplyStatements.upsert(ODD, List.of("Id", "select", "a \"b\" c"), List.of("Id"));

    assertThat(sql)
        .isEqualTo(
            "INSERT INTO \"Sales Data\".\"Odd \"\"Table\"\" Name\" (\"Id\", \"select\","
                + " \"a \"\"b\"\" c\") OVERRIDING SYSTEM VALUE VALUES (?, ?, ?)"
                + " ON CONFLICT (\"Id\") DO UPDATE SET \"select\" = EXCLUDED.\"select\","
                + " \"a \"\"b\"\" c\" = EXCLUDED.\"a \"\"b\"\" c\"");
  }

  @Test
  void upsertWithCompositeKeyListsKeyColumnsInKeyOrder() {
    String sql =
        ApplyStatements.upsert(
            TableName.of("public", "order"), List.of("a", "b", "v"), List.of("b", "a"));

    assertThat(sql)
        .contains("ON CONFLICT (\"b\", \"a\") DO UPDATE SET \"v\" = EXCLUDED.\"v\"")
        .doesNotContain("\"a\" = EXCLUDED")
        .doesNotContain("\"b\" = EXCLUDED");
  }

  @Test
  void upsertDoesNothingOnConflictWhenEveryColumnIsKey() {
    String sql =
        ApplyStatements.upsert(
            TableName.of("public", "Tags"), List.of("user", "Tag"), List.of("user", "Tag"));

    assertThat(sql)
        .isEqualTo(
            "INSERT INTO \"public\".\"Tags\" (\"user\", \"Tag\") OVERRIDING SYSTEM VALUE"
                + " VALUES (?, ?) ON CONFLICT (\"user\", \"Tag\") DO NOTHING");
  }

  @Test
  void upsertHasOneParameterPerColumn() {
    String sql =
        ApplyStatements.upsert(TableName.of("s", "t"), List.of("a", "b", "c", "d"), List.of("a"));

    assertThat(sql.chars().filter(c -> c == '?').count()).isEqualTo(4);
  }

  @Test
  void updateSetsColumnsAndMatchesEveryKeyColumn() {
    String sql = ApplyStatements.update(ODD, List.of("Name", "from"), List.of("Id", "table"));

    assertThat(sql)
        .isEqualTo(
            "UPDATE \"Sales Data\".\"Odd \"\"Table\"\" Name\" SET \"Name\" = ?, \"from\" = ?"
                + " WHERE \"Id\" = ? AND \"table\" = ?");
  }

  @Test
  void deleteMatchesEveryKeyColumn() {
    String sql =
        ApplyStatements.delete(TableName.of("my schema", "User"), List.of("group", "x\"y"));

    assertThat(sql)
        .isEqualTo("DELETE FROM \"my schema\".\"User\" WHERE \"group\" = ? AND \"x\"\"y\" = ?");
  }

  @Test
  void truncateQuotesTable() {
    assertThat(ApplyStatements.truncate(TableName.of("public", "Order Items")))
        .isEqualTo("TRUNCATE \"public\".\"Order Items\"");
  }

  @Test
  void identifiersThatLookLikeSqlStayInsideQuotes() {
    String sql =
        ApplyStatements.delete(
            TableName.of("public", "t\"; DROP TABLE x; --"), List.of("id\" = 1 OR \"1"));

    assertThat(sql)
        .isEqualTo(
            "DELETE FROM \"public\".\"t\"\"; DROP TABLE x; --\""
                + " WHERE \"id\"\" = 1 OR \"\"1\" = ?");
  }

  @Test
  void upsertLeavesGeneratedAlwaysIdentityColumnsOutOfTheConflictUpdate() {
    String sql =
        ApplyStatements.upsert(
            TableName.of("public", "t"), List.of("k", "n", "v"), List.of("k"), List.of("n"));

    assertThat(sql)
        .isEqualTo(
            "INSERT INTO \"public\".\"t\" (\"k\", \"n\", \"v\") OVERRIDING SYSTEM VALUE"
                + " VALUES (?, ?, ?) ON CONFLICT (\"k\") DO UPDATE SET \"v\" = EXCLUDED.\"v\"");
  }

  @Test
  void updateMatchesGuardColumnsAfterTheKey() {
    String sql =
        ApplyStatements.update(
            TableName.of("public", "t"), List.of("v"), List.of("k"), List.of("n m"));

    assertThat(sql)
        .isEqualTo(
            "UPDATE \"public\".\"t\" SET \"v\" = ? WHERE \"k\" = ?"
                + " AND \"n m\" IS NOT DISTINCT FROM ?");
  }
}
