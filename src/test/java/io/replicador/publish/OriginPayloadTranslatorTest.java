package io.replicador.publish;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.change.Operation;
import io.replicador.change.TableName;
import io.replicador.publish.OriginPayloadTranslator.OriginChange;
import io.replicador.publish.OriginPayloadTranslator.OriginPayloadException;
import io.replicador.publish.OriginPayloadTranslator.OriginTable;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class OriginPayloadTranslatorTest {
  private static final OriginTable USERS =
      new OriginTable(16384, TableName.of("public", "users"), 'r', true);
  private static final Map<String, OriginTable> CATALOG =
      Map.of(
          "users", USERS,
          "nokey", new OriginTable(16400, TableName.of("public", "nokey"), 'r', false),
          "user_view", new OriginTable(16500, TableName.of("public", "user_view"), 'v', false));

  private final OriginPayloadTranslator translator =
      new OriginPayloadTranslator(name -> Optional.ofNullable(CATALOG.get(name)));

  private static String payload(String table, String op, String newRecord, String oldRecord) {
    return "{\"table\" : \""
        + table
        + "\", \"operation\" : \""
        + op
        + "\", \"new_record\" : "
        + newRecord
        + ", \"old_record\" : "
        + oldRecord
        + "}";
  }

  private String reason(String payload) {
    Throwable t =
        org.assertj.core.api.Assertions.catchThrowable(() -> translator.translate(payload));
    assertThat(t).isInstanceOf(OriginPayloadException.class);
    assertThat(t.getMessage()).doesNotContain("\n");
    return t.getMessage();
  }

  @Test
  void acceptsTheOriginTriggersPayloadForEachOperation() throws Exception {
    String row = "{\"id\":1,\"name\":\"O'Brien \\\\ \\\"quoted\\\" Zoë 日本\"}";
    String insert = payload("users", "INSERT", row, "null");
    OriginChange c = translator.translate(insert);
    assertThat(c.table()).isEqualTo(USERS);
    assertThat(c.op()).isEqualTo(Operation.INSERT);
    assertThat(c.payload()).isSameAs(insert); // values stay in the original text
    assertThat(translator.translate(payload("users", "UPDATE", row, row)).op())
        .isEqualTo(Operation.UPDATE);
    assertThat(translator.translate(payload("users", "DELETE", "null", row)).op())
        .isEqualTo(Operation.DELETE);
  }

  @Test
  void rejectsTextThatIsNotJson() {
    assertThat(reason("users row 1 changed")).startsWith("payload is not JSON");
    assertThat(reason("")).isEqualTo("payload is empty");
    assertThat(reason(payload("users", "INSERT", "{\"id\":1}", "null") + " trailing"))
        .startsWith("payload is not JSON");
  }

  @Test
  void rejectsJsonThatIsNotAnObject() {
    assertThat(reason("[1, 2]")).isEqualTo("payload is not a JSON object (got ARRAY)");
    assertThat(reason("\"users\"")).isEqualTo("payload is not a JSON object (got STRING)");
  }

  @Test
  void rejectsMissingKeys() {
    assertThat(reason("{\"table\":\"users\",\"operation\":\"INSERT\",\"new_record\":{\"id\":1}}"))
        .isEqualTo("payload has no \"old_record\" key");
    assertThat(reason("{\"operation\":\"INSERT\",\"new_record\":{},\"old_record\":null}"))
        .isEqualTo("payload has no \"table\" key");
  }

  @Test
  void rejectsAnUnknownOperation() {
    assertThat(reason(payload("users", "MERGE", "{\"id\":1}", "null")))
        .isEqualTo("unknown operation \"MERGE\"; expected INSERT, UPDATE, DELETE or TRUNCATE");
    assertThat(reason(payload("users", "insert", "{\"id\":1}", "null")))
        .startsWith("unknown operation \"insert\"");
  }

  @Test
  void rejectsRecordsMissingForTheOperation() {
    assertThat(reason(payload("users", "INSERT", "null", "null")))
        .isEqualTo("\"new_record\" of INSERT is NULL, expected a JSON object");
    assertThat(reason(payload("users", "UPDATE", "{\"id\":1}", "null")))
        .isEqualTo("\"old_record\" of UPDATE is NULL, expected a JSON object");
    assertThat(reason(payload("users", "DELETE", "{\"id\":1}", "[1]")))
        .isEqualTo("\"old_record\" of DELETE is ARRAY, expected a JSON object");
  }

  @Test
  void rejectsAnUnknownTableOrOneThatCannotBeReplicated() {
    assertThat(reason(payload("userz", "INSERT", "{\"id\":1}", "null")))
        .isEqualTo(
            "table \"userz\" does not exist on the primary under the publisher's search_path");
    assertThat(reason(payload("nokey", "INSERT", "{\"a\":1}", "null")))
        .startsWith("table \"public\".\"nokey\" has no primary key");
    assertThat(reason(payload("user_view", "INSERT", "{\"a\":1}", "null")))
        .contains("which is not a table (relkind 'v')");
    assertThat(
            reason("{\"table\":42,\"operation\":\"INSERT\",\"new_record\":{},\"old_record\":null}"))
        .isEqualTo("\"table\" is not a non-empty string");
  }

  @Test
  void doesNotLookUpTheTableOfAMalformedPayload() {
    OriginPayloadTranslator strict =
        new OriginPayloadTranslator(
            name -> {
              throw new AssertionError("looked up " + name);
            });
    assertThatThrownBy(() -> strict.translate(payload("users", "MERGE", "{}", "null")))
        .isInstanceOf(OriginPayloadException.class);
  }
}
