package io.replicador.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.Relation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChangeMessageCodecTest {
  private final ChangeMessageCodec codec = new ChangeMessageCodec();

  private static final Relation USERS =
      new Relation(TableName.of("public", "users"), List.of("id", "name", "note"), List.of("id"));
  private static final Relation ODD =
      new Relation(
          TableName.of("Sales Data", "Odd \"Table\" Name"),
          List.of("K", "select", "a b"),
          List.of("K", "select"));

  private static Change insert(Relation r, String... values) {
    return new Change(Operation.INSERT, r, Arrays.asList(values), List.of());
  }

  private static ChangeMessage message(SourceTransaction... txs) {
    return new ChangeMessage("primary-1", List.of(txs));
  }

  private ChangeMessage roundTrip(ChangeMessage m) throws MalformedMessageException {
    return codec.decode(codec.encode(m));
  }

  private static byte[] json(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void roundTripsAllOperationsAcrossTransactions() throws Exception {
    ChangeMessage m =
        message(
            new SourceTransaction(
                41,
                "1001",
                0,
                true,
                List.of(
                    insert(USERS, "1", "ann", "hi"),
                    new Change(Operation.UPDATE, USERS, List.of("1", "anne", "x"), List.of("1")),
                    new Change(Operation.DELETE, USERS, List.of(), List.of("1")))),
            new SourceTransaction(
                42,
                "1002",
                3,
                false,
                List.of(
                    insert(ODD, "k", "s", "v"),
                    new Change(Operation.TRUNCATE, ODD, List.of(), List.of()))));

    ChangeMessage decoded = roundTrip(m);

    assertThat(decoded).isEqualTo(m);
    assertThat(decoded.transactions().get(1).part()).isEqualTo(3);
    assertThat(decoded.transactions().get(1).last()).isFalse();
  }

  @Test
  void keepsSqlNullDistinctFromTheTextNull() throws Exception {
    ChangeMessage m =
        message(new SourceTransaction(1, "7", 0, true, List.of(insert(USERS, "1", null, "null"))));

    List<String> values = roundTrip(m).transactions().get(0).changes().get(0).values();

    assertThat(values).containsExactly("1", null, "null");
    assertThat(values.get(1)).isNull();
    assertThat(values.get(2)).isEqualTo("null");
  }

  @Test
  void roundTripsUnicodeEmptyStringsAndControlCharacters() throws Exception {
    Relation r = new Relation(TableName.of("données", "表"), List.of("名前", "v", "w"), List.of("名前"));
    String tricky = "line1\nline2\t\"quoted\" \\ back \u0001 😀";
    ChangeMessage m =
        message(new SourceTransaction(9, "9", 0, true, List.of(insert(r, "ключ", "", tricky))));

    ChangeMessage decoded = roundTrip(m);

    assertThat(decoded).isEqualTo(m);
    assertThat(decoded.transactions().get(0).changes().get(0).values().get(2)).isEqualTo(tricky);
  }

  @Test
  void namesEachRelationOnceAndRefersToItByIndex() throws Exception {
    ChangeMessage m =
        message(
            new SourceTransaction(
                1, "1", 0, true, List.of(insert(USERS, "1", "a", "b"), insert(ODD, "k", "s", "v"))),
            new SourceTransaction(2, "2", 0, true, List.of(insert(USERS, "2", "c", "d"))));

    String body = new String(codec.encode(m), StandardCharsets.UTF_8);

    assertThat(body).containsOnlyOnce("\"users\"");
    assertThat(body).contains("\"format\":\"replicador\"", "\"version\":1");
    ChangeMessage decoded = codec.decode(json(body));
    assertThat(decoded.transactions().get(1).changes().get(0).relation()).isEqualTo(USERS);
  }

  @Test
  void roundTripsMessageWithoutTransactions() throws Exception {
    ChangeMessage m = new ChangeMessage("s", List.of());
    assertThat(roundTrip(m)).isEqualTo(m);
  }

  @Test
  void rejectsBodyThatIsNotJson() {
    assertThatThrownBy(() -> codec.decode(json("hello there")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageStartingWith("body is not JSON");
  }

  @Test
  void rejectsJsonThatIsNotAnObject() {
    assertThatThrownBy(() -> codec.decode(json("[1,2]")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessage("body is not a JSON object");
    assertThatThrownBy(() -> codec.decode(new byte[0]))
        .isInstanceOf(MalformedMessageException.class);
  }

  @Test
  void rejectsWrongFormat() {
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(
                        "{\"format\":\"other\",\"version\":1,\"source\":\"s\","
                            + "\"relations\":[],\"transactions\":[]}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("format")
        .hasMessageContaining("replicador");
  }

  @Test
  void rejectsOtherVersionsNamingThoseItReadsAndTakesThemForChangeMessages() {
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(
                        "{\"format\":\"replicador\",\"version\":4,\"source\":\"s\","
                            + "\"relations\":[],\"transactions\":[]}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("unsupported version 4")
        .hasMessageContaining("versions 1 to 3")
        .matches(e -> ((MalformedMessageException) e).ours(), "is ours");
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(
                        "{\"format\":\"replicador\",\"version\":\"1\",\"source\":\"s\","
                            + "\"relations\":[],\"transactions\":[]}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("unsupported version");
  }

  @Test
  void aBrokenOrForeignMessageIsNotTakenForAChangeMessage() {
    assertThatThrownBy(() -> codec.decode(json("not json")))
        .matches(e -> !((MalformedMessageException) e).ours(), "is not ours");
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(
                        "{\"format\":\"replicador\",\"version\":1,\"source\":\"s\","
                            + "\"relations\":[],\"transactions\":[{\"position\":1,\"xid\":\"1\","
                            + "\"changes\":[{\"op\":\"insert\",\"relation\":3}]}]}")))
        .matches(e -> !((MalformedMessageException) e).ours(), "is not ours");
  }

  @Test
  void valuePiecesRoundTripInAVersion2MessageAndOthersStayVersion1() throws Exception {
    Change first = Change.valuePart(USERS, 2, "abc\"\u0000");
    Change second = Change.valuePart(USERS, 2, "défg");
    Change insert =
        new Change(Operation.INSERT, USERS, Arrays.asList("1", "ann", null), List.of(), List.of(2));
    ChangeMessage m =
        message(new SourceTransaction(7, "70", 0, true, List.of(first, second, insert)));
    byte[] body = codec.encode(m);
    assertThat(new String(body, StandardCharsets.UTF_8))
        .contains("\"version\":2", "\"op\":\"value\"", "\"column\":2", "\"chunked\":[2]");
    assertThat(ChangeMessageCodec.contentType(m))
        .isEqualTo(ChangeMessageCodec.CONTENT_TYPE_VALUE_PARTS);
    assertThat(codec.decode(body)).isEqualTo(m);
    ChangeMessage plain =
        message(new SourceTransaction(8, "80", 0, true, List.of(insert(USERS, "2", "b", "c"))));
    assertThat(new String(codec.encode(plain), StandardCharsets.UTF_8)).contains("\"version\":1");
    assertThat(ChangeMessageCodec.contentType(plain)).isEqualTo(ChangeMessageCodec.CONTENT_TYPE);
  }

  @Test
  void schemaChangesRoundTripInAVersion3MessageBetweenRowChanges() throws Exception {
    Change ddl =
        Change.ddl(
            ODD.table(),
            "ALTER TABLE \"Sales Data\".\"Odd \"\"Table\"\" Name\" ADD c int",
            "\"$user\", public");
    ChangeMessage m =
        message(
            new SourceTransaction(
                9,
                "90",
                0,
                true,
                List.of(insert(USERS, "1", "a", null), ddl, insert(USERS, "2", "b", null))));
    byte[] body = codec.encode(m);
    String text = new String(body, StandardCharsets.UTF_8);
    assertThat(text).contains("\"version\":3", "\"op\":\"ddl\"", "\"search_path\"");
    // the ddl change names its table itself: only USERS is among the relations
    assertThat(text).doesNotContain("\"columns\":[]");
    assertThat(ChangeMessageCodec.contentType(m)).isEqualTo(ChangeMessageCodec.CONTENT_TYPE_DDL);
    ChangeMessage back = codec.decode(body);
    assertThat(back).isEqualTo(m);
    Change read = back.transactions().get(0).changes().get(1);
    assertThat(read.op()).isEqualTo(Operation.DDL);
    assertThat(read.table()).isEqualTo(ODD.table());
    assertThat(read.statement()).isEqualTo(ddl.statement());
    assertThat(read.searchPath()).isEqualTo("\"$user\", public");
  }

  @Test
  void aDdlChangeWithoutItsStatementIsRefused() {
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(
                        "{\"format\":\"replicador\",\"version\":3,\"source\":\"s\","
                            + "\"relations\":[],\"transactions\":[{\"position\":1,\"xid\":\"1\","
                            + "\"changes\":[{\"op\":\"ddl\",\"schema\":\"public\",\"table\":\"t\"}]}]}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("statement");
  }

  @Test
  void rejectsChunkedColumnsThatAreNotNullValuesAndPiecesWithoutAColumn() {
    String head =
        "{\"format\":\"replicador\",\"version\":2,\"source\":\"s\",\"relations\":[{\"schema\":\"public\","
            + "\"table\":\"t\",\"columns\":[\"id\",\"v\"],\"key\":[\"id\"]}],\"transactions\":"
            + "[{\"position\":1,\"xid\":\"1\",\"changes\":[";
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(
                        head
                            + "{\"op\":\"insert\",\"relation\":0,\"values\":[\"1\",\"x\"],"
                            + "\"chunked\":[1]}]}]}")))
        .hasMessageContaining("chunked column 1");
    assertThatThrownBy(
            () -> codec.decode(json(head + "{\"op\":\"value\",\"relation\":0,\"data\":\"x\"}]}]}")))
        .hasMessageContaining("value part");
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(
                        head
                            + "{\"op\":\"value\",\"relation\":0,\"column\":5,\"data\":\"x\"}]}]}")))
        .hasMessageContaining("value part");
  }

  @Test
  void readsAStringLongerThanJacksonsDefaultLimit() throws Exception {
    String big = "x".repeat(21_000_000);
    ChangeMessage m =
        message(new SourceTransaction(1, "1", 0, true, List.of(insert(USERS, "1", big, null))));
    assertThat(codec.decode(codec.encode(m)).transactions().get(0).changes().get(0).values().get(1))
        .hasSize(21_000_000);
  }

  @Test
  void rejectsMissingFieldsNamingThem() {
    String head = "{\"format\":\"replicador\",\"version\":1,";
    assertThatThrownBy(() -> codec.decode(json(head + "\"relations\":[],\"transactions\":[]}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("\"source\"");
    assertThatThrownBy(() -> codec.decode(json(head + "\"source\":\"s\",\"transactions\":[]}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("\"relations\"");
    assertThatThrownBy(() -> codec.decode(json(head + "\"source\":\"s\",\"relations\":[]}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("\"transactions\"");
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(
                        head
                            + "\"source\":\"s\",\"relations\":[],"
                            + "\"transactions\":[{\"xid\":\"1\",\"changes\":[]}]}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("\"position\"");
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(
                        head
                            + "\"source\":\"s\",\"relations\":[{\"schema\":\"public\","
                            + "\"columns\":[],\"key\":[]}],\"transactions\":[]}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("\"table\"");
  }

  private static String oneChange(String change) {
    return "{\"format\":\"replicador\",\"version\":1,\"source\":\"s\","
        + "\"relations\":[{\"schema\":\"public\",\"table\":\"users\","
        + "\"columns\":[\"id\",\"name\"],\"key\":[\"id\"]}],"
        + "\"transactions\":[{\"position\":5,\"xid\":\"77\",\"part\":0,\"last\":true,"
        + "\"changes\":["
        + change
        + "]}]}";
  }

  @Test
  void acceptsHandWrittenMessage() throws Exception {
    ChangeMessage m =
        codec.decode(json(oneChange("{\"op\":\"insert\",\"relation\":0,\"values\":[\"1\",null]}")));

    SourceTransaction tx = m.transactions().get(0);
    assertThat(tx.position()).isEqualTo(5);
    assertThat(tx.whole()).isTrue();
    assertThat(tx.changes().get(0).table()).isEqualTo(TableName.of("public", "users"));
    assertThat(tx.changes().get(0).values()).containsExactly("1", null);
  }

  @Test
  void readsFieldsInAnyOrderAndSkipsThoseItDoesNotKnow() throws Exception {
    ChangeMessage m =
        codec.decode(
            json(
                "{\"transactions\":[{\"changes\":[{\"values\":[\"2\",\"b\"],\"x\":{\"y\":[1]},"
                    + "\"relation\":0,\"op\":\"insert\"}],\"last\":false,\"part\":3,"
                    + "\"xid\":\"9\",\"position\":7,\"trace\":[{\"a\":null}]}],"
                    + "\"extra\":{\"nested\":[1,{\"deep\":true}]},"
                    + "\"relations\":[{\"key\":[\"id\"],\"comment\":\"c\","
                    + "\"columns\":[\"id\",\"name\"],"
                    + "\"table\":\"users\",\"schema\":\"public\"}],"
                    + "\"source\":\"s\",\"version\":1,\"format\":\"replicador\"}"));

    SourceTransaction tx = m.transactions().get(0);
    assertThat(m.source()).isEqualTo("s");
    assertThat(tx.position()).isEqualTo(7);
    assertThat(tx.part()).isEqualTo(3);
    assertThat(tx.last()).isFalse();
    assertThat(tx.changes())
        .containsExactly(
            new Change(
                Operation.INSERT,
                new Relation(TableName.of("public", "users"), List.of("id", "name"), List.of("id")),
                List.of("2", "b"),
                List.of()));
  }

  @Test
  void rejectsValueCountThatDoesNotMatchColumns() {
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(oneChange("{\"op\":\"insert\",\"relation\":0,\"values\":[\"1\"]}"))))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("insert on \"public\".\"users\"")
        .hasMessageContaining("1 values for 2 columns");
  }

  @Test
  void rejectsKeyCountThatDoesNotMatchKeyColumns() {
    assertThatThrownBy(
            () -> codec.decode(json(oneChange("{\"op\":\"delete\",\"relation\":0,\"key\":[]}"))))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("delete on \"public\".\"users\"")
        .hasMessageContaining("0 key values for 1 key columns");
  }

  @Test
  void rejectsARelationWhoseKeyIsNotAmongItsColumns() {
    String message =
        oneChange("{\"op\":\"delete\",\"relation\":0,\"key\":[\"1\"]}")
            .replace("\"key\":[\"id\"]", "\"key\":[\"uid\"]");
    assertThatThrownBy(() -> codec.decode(json(message)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("not among its columns");
  }

  @Test
  void rejectsUnknownOperation() {
    assertThatThrownBy(() -> codec.decode(json(oneChange("{\"op\":\"merge\",\"relation\":0}"))))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("merge");
  }

  @Test
  void rejectsUnknownRelationIndex() {
    assertThatThrownBy(() -> codec.decode(json(oneChange("{\"op\":\"truncate\",\"relation\":1}"))))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("unknown relation 1");
  }

  @Test
  void rejectsNonStringValues() {
    assertThatThrownBy(
            () ->
                codec.decode(
                    json(oneChange("{\"op\":\"insert\",\"relation\":0,\"values\":[1,\"a\"]}"))))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("\"values\"")
        .hasMessageContaining("non-string");
  }

  @Test
  void rejectsPositionBelowOne() {
    String body = oneChange("").replace("\"position\":5", "\"position\":0");
    assertThatThrownBy(() -> codec.decode(json(body)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("\"position\"");
  }

  @Test
  void rejectsNullColumnName() {
    String body = oneChange("").replace("[\"id\",\"name\"]", "[\"id\",null]");
    assertThatThrownBy(() -> codec.decode(json(body)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("\"columns\"")
        .hasMessageContaining("null name");
  }
}
