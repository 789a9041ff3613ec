package io.replicador.publish;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.change.Change;
import io.replicador.change.Operation;
import io.replicador.change.TableName;
import io.replicador.store.ChangeLogRow;
import org.junit.jupiter.api.Test;

/** The logical decoding messages that carry schema changes and repaired rows. */
class WalChangesTest {
  private static PgOutput.LogicalMessage message(String prefix, String content) {
    return new PgOutput.LogicalMessage(true, 42, prefix, content);
  }

  @Test
  void readsASchemaChangeWithItsSearchPath() {
    Change c =
        WalChanges.ddl(
            message(
                WalChanges.DDL_PREFIX,
                "{\"schema\": \"Odd S\", \"table\": \"t\\\"x\", \"statement\": \"ALTER TABLE"
                    + " \\\"t\\\"\\\"x\\\" ADD c int\", \"search_path\": \"\\\"Odd S\\\"\"}"));
    assertThat(c.op()).isEqualTo(Operation.DDL);
    assertThat(c.table()).isEqualTo(TableName.of("Odd S", "t\"x"));
    assertThat(c.statement()).isEqualTo("ALTER TABLE \"t\"\"x\" ADD c int");
    assertThat(c.searchPath()).isEqualTo("\"Odd S\"");
  }

  @Test
  void refusesASchemaChangeWithoutItsStatement() {
    assertThatThrownBy(
            () ->
                WalChanges.ddl(
                    message(WalChanges.DDL_PREFIX, "{\"schema\": \"public\", \"table\": \"t\"}")))
        .hasMessageContaining("lacks schema, table or statement");
    assertThatThrownBy(() -> WalChanges.ddl(message(WalChanges.DDL_PREFIX, "not json")))
        .hasMessageContaining("is not JSON");
  }

  @Test
  void readsARefreshAsTheChangelogRowTriggersWouldWrite() {
    ChangeLogRow insert =
        WalChanges.refreshRow(
            message(
                WalChanges.REFRESH_PREFIX,
                "{\"relid\": 16384, \"schema\": \"public\", \"table\": \"t\", \"op\": \"I\","
                    + " \"row\": \"(1,a)\"}"),
            "77");
    assertThat(insert.op()).isEqualTo(Operation.INSERT);
    assertThat(insert.newRow()).isEqualTo("(1,a)");
    assertThat(insert.oldRow()).isNull();
    assertThat(insert.relid()).isEqualTo(16384);
    assertThat(insert.txid()).isEqualTo("77");
    ChangeLogRow delete =
        WalChanges.refreshRow(
            message(
                WalChanges.REFRESH_PREFIX,
                "{\"relid\": 16384, \"schema\": \"public\", \"table\": \"t\", \"op\": \"D\","
                    + " \"row\": \"(1,)\"}"),
            "78");
    assertThat(delete.op()).isEqualTo(Operation.DELETE);
    assertThat(delete.oldRow()).isEqualTo("(1,)");
    assertThat(delete.newRow()).isNull();
    assertThatThrownBy(
            () ->
                WalChanges.refreshRow(
                    message(
                        WalChanges.REFRESH_PREFIX,
                        "{\"relid\": 1, \"schema\": \"s\", \"table\": \"t\", \"op\": \"U\","
                            + " \"row\": \"()\"}"),
                    "1"))
        .hasMessageContaining("lacks relid, schema, table, op or row");
  }
}
