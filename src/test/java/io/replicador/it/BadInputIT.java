package io.replicador.it;

import static io.replicador.it.ReplicationFixture.rowsText;
import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.GetResponse;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.Topology;
import io.replicador.cli.Main;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.slf4j.LoggerFactory;

/**
 * Input the replica cannot take is refused loudly and loses nothing: the listener stops at the bad
 * change (applying nothing after it), logs one line naming replica, table, column and the
 * database's error, retries, and continues by itself once the replica is fixed. Foreign messages go
 * to the dead-letter queue. Values that look like SQL stay data.
 */
class BadInputIT {
  private ReplicationFixture fx;
  private String replicaDb;
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private final Logger applyLogger = (Logger) LoggerFactory.getLogger("io.replicador.apply");

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
    logs.start();
    applyLogger.addAppender(logs);
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
    applyLogger.detachAppender(logs);
  }

  private void primary(String... sql) {
    exec(fx.primaryCluster, fx.primaryDb, sql);
  }

  private void replica(String... sql) {
    exec(fx.replicaCluster, replicaDb, sql);
  }

  private ReplicaListener replicate(String... tables) {
    assertThat(
            Main.run("install", "--primary", fx.primaryUri(), "--tables", String.join(",", tables)))
        .isZero();
    ReplicaListener listener = fx.startListener("r1", Set.of());
    fx.startPublisher();
    return listener;
  }

  private void awaitSameRows(String table, String orderBy) {
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () ->
                assertThat(rowsText(fx.replicaCluster, replicaDb, table, orderBy))
                    .isEqualTo(rowsText(fx.primaryCluster, fx.primaryDb, table, orderBy)));
  }

  /** The ERROR lines of this test's replica, as logged. */
  private List<String> errorLines() {
    List<String> lines = new ArrayList<>();
    for (ILoggingEvent e : List.copyOf(logs.list)) {
      String line = e.getFormattedMessage();
      if (e.getLevel().toString().equals("ERROR") && line.contains(fx.replicaName("r1"))) {
        lines.add(line);
      }
    }
    return lines;
  }

  /** Waits until the listener has failed on the bad change at least twice (it retries). */
  private String awaitRetriedError(String... mustContain) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> errorLines().size() >= 2);
    String line = errorLines().get(0);
    assertThat(line).contains(mustContain).doesNotContain("\n");
    assertThat(errorLines().get(1)).isEqualTo(line.replace("retrying in 1 s", "retrying in 2 s"));
    return line;
  }

  /**
   * Writes a good change, waits for it, then a bad one to {@code bad} followed by a good one to
   * {@code later}; the caller then checks the error line and fixes the replica.
   */
  private void goodBadGood(String badInsert) {
    primary("INSERT INTO later VALUES (1)");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> "1".equals(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM later")));
    primary(badInsert, "INSERT INTO later VALUES (2)");
  }

  private void assertNothingPastTheBadChangeApplied(ReplicaListener listener, long goodPosition) {
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT string_agg(id::text, ',') FROM later"))
        .isEqualTo("1");
    assertThat(listener.positions().values()).containsExactly(goodPosition);
  }

  @Test
  void aMissingColumnStopsTheStreamUntilTheReplicaGetsTheColumn() {
    primary(
        "CREATE TABLE later (id int PRIMARY KEY)",
        "CREATE TABLE wide (id int PRIMARY KEY, v text, \"Extra Col\" text)");
    replica(
        "CREATE TABLE later (id int PRIMARY KEY)",
        "CREATE TABLE wide (id int PRIMARY KEY, v text)");
    ReplicaListener listener = replicate("later", "wide");
    goodBadGood("INSERT INTO wide VALUES (1, 'v', 'not dropped')");

    awaitRetriedError(
        "Replica " + fx.replicaName("r1"),
        "\"public\".\"wide\"",
        "no column \"Extra Col\"",
        "ADD COLUMN");
    assertNothingPastTheBadChangeApplied(listener, 1);
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM wide")).isEqualTo("0");

    replica("ALTER TABLE wide ADD COLUMN \"Extra Col\" text");
    awaitSameRows("wide", "r.id");
    awaitSameRows("later", "r.id");
  }

  @Test
  void aMissingTableStopsTheStreamUntilItIsCreated() {
    primary("CREATE TABLE later (id int PRIMARY KEY)", "CREATE TABLE absent (id int PRIMARY KEY)");
    replica("CREATE TABLE later (id int PRIMARY KEY)");
    ReplicaListener listener = replicate("later", "absent");
    goodBadGood("INSERT INTO absent VALUES (7)");

    awaitRetriedError("Replica " + fx.replicaName("r1"), "\"public\".\"absent\" does not exist");
    assertNothingPastTheBadChangeApplied(listener, 1);

    replica("CREATE TABLE absent (id int PRIMARY KEY)");
    awaitSameRows("absent", "r.id");
    awaitSameRows("later", "r.id");
  }

  @Test
  void anIncompatibleTypeNamesTheColumnAndTheDatabaseError() {
    primary(
        "CREATE TABLE later (id int PRIMARY KEY)",
        "CREATE TABLE typed (id int PRIMARY KEY, qty text, note text)");
    replica(
        "CREATE TABLE later (id int PRIMARY KEY)",
        "CREATE TABLE typed (id int PRIMARY KEY, qty int, note text)");
    ReplicaListener listener = replicate("later", "typed");
    goodBadGood("INSERT INTO typed VALUES (1, 'twelve', 'n')");

    awaitRetriedError(
        "Replica " + fx.replicaName("r1"),
        "insert on \"public\".\"typed\" column \"qty\"",
        "invalid input syntax for type integer",
        "SQLSTATE 22P02");
    assertNothingPastTheBadChangeApplied(listener, 1);

    replica("ALTER TABLE typed ALTER COLUMN qty TYPE text");
    awaitSameRows("typed", "r.id");
    awaitSameRows("later", "r.id");
  }

  @Test
  void aConstraintViolationOnTheReplicaNamesTheColumnAndWaitsForTheFix() {
    primary(
        "CREATE TABLE later (id int PRIMARY KEY)",
        "CREATE TABLE strict (id int PRIMARY KEY, v text, w text)");
    replica(
        "CREATE TABLE later (id int PRIMARY KEY)",
        "CREATE TABLE strict (id int PRIMARY KEY, v text NOT NULL, w text CHECK (w <> 'no'))");
    ReplicaListener listener = replicate("later", "strict");
    goodBadGood("INSERT INTO strict VALUES (1, NULL, 'ok')");

    awaitRetriedError(
        "Replica " + fx.replicaName("r1"),
        "\"public\".\"strict\" column \"v\"",
        "null value in column \"v\"",
        "SQLSTATE 23502");
    assertNothingPastTheBadChangeApplied(listener, 1);

    replica("ALTER TABLE strict ALTER COLUMN v DROP NOT NULL");
    awaitSameRows("strict", "r.id");
    awaitSameRows("later", "r.id");

    logs.list.clear();
    primary("UPDATE strict SET w = 'no'", "INSERT INTO later VALUES (3)");
    String line =
        awaitRetriedError(
            "Replica " + fx.replicaName("r1"), "\"public\".\"strict\"", "strict_w_check");
    assertThat(line).contains("SQLSTATE 23514");
    replica("ALTER TABLE strict DROP CONSTRAINT strict_w_check");
    awaitSameRows("strict", "r.id");
    awaitSameRows("later", "r.id");
  }

  @Test
  void foreignMessagesGoToTheDeadLetterQueueAndTheStreamGoesOn() throws Exception {
    primary("CREATE TABLE later (id int PRIMARY KEY)");
    replica("CREATE TABLE later (id int PRIMARY KEY)");
    ReplicaListener listener = replicate("later");
    primary("INSERT INTO later VALUES (1)");
    awaitSameRows("later", "r.id"); // the queue exists and is bound: foreign messages reach it

    String[] foreign = {
      "not json at all",
      "{\"table\": \"users\", \"operation\": \"INSERT\", \"new_record\": {}}",
      "{\"format\": \"replicador\", \"version\": 1, \"source\": \"s\", \"relations\": [],"
          + " \"transactions\": [{\"position\": 1, \"xid\": \"1\", \"changes\":"
          + " [{\"op\": \"insert\", \"relation\": 3}]}]}",
    };
    for (String body : foreign) {
      fx.publishRaw(
          body.getBytes(StandardCharsets.UTF_8),
          new AMQP.BasicProperties.Builder().messageId("foreign").deliveryMode(2).build());
    }
    primary("INSERT INTO later VALUES (2)");
    awaitSameRows("later", "r.id");
    assertThat(listener.deadLettered()).isEqualTo(foreign.length);

    List<String> reasons = new ArrayList<>();
    List<String> bodies = new ArrayList<>();
    String dead = Topology.deadLetterQueueName(fx.replicaName("r1"));
    for (Optional<GetResponse> m = fx.take(dead); m.isPresent(); m = fx.take(dead)) {
      reasons.add(
          String.valueOf(m.get().getProps().getHeaders().get(ReplicaListener.REASON_HEADER)));
      bodies.add(new String(m.get().getBody(), StandardCharsets.UTF_8));
    }
    assertThat(bodies).containsExactly(foreign);
    assertThat(reasons.get(0)).contains("not JSON");
    assertThat(reasons.get(1)).contains("\"format\"");
    assertThat(reasons.get(2)).contains("unknown relation 3");
  }

  @Test
  void aChangeMessageOfANewerVersionHaltsTheReplicaAndIsNotDeadLettered() throws Exception {
    primary("CREATE TABLE later (id int PRIMARY KEY)");
    replica("CREATE TABLE later (id int PRIMARY KEY)");
    ReplicaListener listener = replicate("later");
    primary("INSERT INTO later VALUES (1)");
    awaitSameRows("later", "r.id");
    fx.publishRaw(
        "{\"format\": \"replicador\", \"version\": 99, \"source\": \"s\"}"
            .getBytes(StandardCharsets.UTF_8),
        new AMQP.BasicProperties.Builder().messageId("newer").deliveryMode(2).build());
    primary("INSERT INTO later VALUES (2)");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> errorLines().stream().anyMatch(l -> l.contains("message newer")));
    assertThat(errorLines().get(0))
        .contains("unsupported version 99")
        .contains("upgrade it")
        .contains("stays queued");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT string_agg(id::text, ',') FROM later"))
        .isEqualTo("1");
    assertThat(listener.deadLettered()).isZero();
    // the message is still at the head of the queue; once it is taken away, the stream goes on
    listener.close();
    String queue = Topology.queueName(fx.replicaName("r1"));
    assertThat(new String(fx.takeFirst(queue), StandardCharsets.UTF_8)).contains("99");
    fx.startListener("r1", Set.of());
    awaitSameRows("later", "r.id");
  }

  @Test
  void aReplicaOnlyColumnKeepsItsDefault() {
    primary("CREATE TABLE people (id int PRIMARY KEY, name text)");
    replica(
        "CREATE TABLE people (id int PRIMARY KEY, name text,"
            + " source text NOT NULL DEFAULT 'replicated', seen int DEFAULT 42)");
    replicate("people");
    primary(
        "INSERT INTO people VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')",
        "UPDATE people SET name = 'bobby' WHERE id = 2",
        "UPDATE people SET id = 30 WHERE id = 3",
        "DELETE FROM people WHERE id = 1");
    awaitSameRows("(SELECT id, name FROM people)", "r.id");
    assertThat(
            query(
                fx.replicaCluster,
                replicaDb,
                "SELECT string_agg(ROW(p.*)::text, ' ' ORDER BY id) FROM people p"))
        .isEqualTo("(2,bobby,replicated,42) (30,cy,replicated,42)");
  }

  @Test
  void valuesThatLookLikeSqlStayDataAndOddTableNamesAreQuoted() {
    String table = "\"x'); DROP TABLE victims; --\".\"Robert'); DROP TABLE students;--\"";
    String ddl =
        "CREATE TABLE victims (id int PRIMARY KEY);"
            + "CREATE SCHEMA \"x'); DROP TABLE victims; --\";"
            + "CREATE TABLE "
            + table
            + " (\"id; DROP TABLE victims\" int PRIMARY KEY,"
            + " \"what?\" text, \"$1\" text, \"\"\"\" text)";
    primary(ddl);
    replica(ddl, "INSERT INTO victims VALUES (1)");
    replicate(table);
    primary(
        "INSERT INTO "
            + table
            + " VALUES (1, 'Robert''); DROP TABLE students;--',"
            + " '?, $1, :name, {call x}', E'\\\\'' OR 1=1; --'),"
            + " (2, '; DELETE FROM victims; SELECT ''', '/* comment', '\"; DROP SCHEMA public CASCADE')",
        "UPDATE "
            + table
            + " SET \"what?\" = 'DROP TABLE victims', \"\"\"\" = '?' WHERE \"$1\" LIKE '?%'",
        "DELETE FROM " + table + " WHERE \"id; DROP TABLE victims\" = 2",
        "INSERT INTO " + table + " VALUES (3, 'x'' || (SELECT 1) || ''', ');', NULL)");
    awaitSameRows(table, "r.\"id; DROP TABLE victims\"");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM victims")).isEqualTo("1");
    assertThat(rowsText(fx.replicaCluster, replicaDb, table, "1")).contains("DROP TABLE victims");
  }
}
