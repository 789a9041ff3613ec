package io.replicador.verify;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.change.TableName;
import java.util.List;
import org.junit.jupiter.api.Test;

class VerifyQueriesTest {
  private final VerifyQueries composite =
      new VerifyQueries(
          TableName.of("Odd", "t"),
          List.of("a", "Key \"B\"", "t"),
          List.of("a", "Key \"B\""),
          List.of("integer", "public.code"));

  @Test
  void compositeKeyRangeUsesRowComparisonWithTypedBounds() {
    KeyRange r = new KeyRange(List.of("1", "x"), List.of("5", "y"));
    assertThat(composite.where(r))
        .isEqualTo(
            " WHERE (t.\"a\", t.\"Key \"\"B\"\"\") >= (CAST(? AS integer), CAST(? AS public.code))"
                + " AND (t.\"a\", t.\"Key \"\"B\"\"\") < (CAST(? AS integer), CAST(? AS public.code))");
    assertThat(VerifyQueries.bounds(r)).containsExactly("1", "x", "5", "y");
    assertThat(composite.where(KeyRange.ALL)).isEmpty();
  }

  @Test
  void hashesQualifiedColumnsSoAColumnNamedLikeTheAliasIsNoProblem() {
    assertThat(composite.rangeSummary(new KeyRange(null, List.of("3", "z"))))
        .isEqualTo(
            "SELECT count(*), coalesce(sum(('x' || left(md5(ROW(t.\"a\", t.\"Key \"\"B\"\"\","
                + " t.\"t\")::text), 16))::bit(64)::int8), 0)::text FROM \"Odd\".\"t\" t"
                + " WHERE (t.\"a\", t.\"Key \"\"B\"\"\") < (CAST(? AS integer),"
                + " CAST(? AS public.code))");
  }

  @Test
  void singleKeyComparesTheColumnItself() {
    VerifyQueries single =
        new VerifyQueries(
            TableName.of("public", "u"), List.of("id", "v"), List.of("id"), List.of("bigint"));
    assertThat(single.where(new KeyRange(List.of("7"), null)))
        .isEqualTo(" WHERE t.\"id\" >= CAST(? AS bigint)");
    assertThat(single.boundaries())
        .isEqualTo(
            "SELECT b0 FROM (SELECT t.\"id\"::text AS b0, row_number() OVER (ORDER BY t.\"id\") AS rn"
                + " FROM \"public\".\"u\" t) x WHERE rn % ? = 1 AND rn > 1 ORDER BY rn");
  }
}
