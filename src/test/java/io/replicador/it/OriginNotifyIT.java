package io.replicador.it;

import static io.replicador.testing.Db.checksum;
import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.replicador.cli.Main;
import io.replicador.testing.ReplicadorProcess;
import io.replicador.testing.TestEnvironment;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Databases set up the origin way (a trigger sends the row as JSON in a NOTIFY payload) replicate
 * with {@code publish --notify-channel}, and move to {@code install} without losing or doubling a
 * change. The tests that end in "Loses..." or "Folds..." document what this mode cannot promise
 * (docs/origin-notify-mode.md); they assert the loss so that a change in behaviour is noticed.
 */
class OriginNotifyIT {
  private static final String TABLE =
      "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, bio text,"
          + " balance numeric(12,2), born date, seen_at timestamptz, tags text[], prefs jsonb,"
          + " avatar bytea)";

  /** Exactly what the origin design installs. */
  private static final String ORIGIN_FUNCTION =
      """
      CREATE OR REPLACE FUNCTION notify_account_changes()
          RETURNS trigger AS
      $$
      BEGIN
          PERFORM pg_notify(
                  'users_changed',
                  json_build_object(
                          'table', TG_TABLE_NAME,
                          'operation', TG_OP,
                          'new_record', row_to_json(NEW),
                          'old_record', row_to_json(OLD)
                      )::text
              );

          RETURN NEW;
      END;
      $$ LANGUAGE plpgsql;
      """;

  private static final String ORIGIN_TRIGGER =
      """
      CREATE TRIGGER users_changed
          AFTER INSERT OR UPDATE
          ON users
          FOR EACH ROW
      EXECUTE PROCEDURE notify_account_changes();
      """;

  /** The variant for users who extended the trigger to deletes. */
  private static final String ORIGIN_TRIGGER_WITH_DELETE =
      ORIGIN_TRIGGER.replace("AFTER INSERT OR UPDATE", "AFTER INSERT OR UPDATE OR DELETE");

  /** Records every row the listener applies, so a change applied twice shows. */
  private static final String REPLICA_AUDIT =
      "CREATE TABLE apply_log (id int, op text);"
          + "CREATE FUNCTION log_apply() RETURNS trigger LANGUAGE plpgsql AS"
          + " $$ BEGIN INSERT INTO apply_log VALUES (coalesce(NEW.id, OLD.id), TG_OP);"
          + " RETURN NULL; END $$;"
          + "CREATE TRIGGER log_apply AFTER INSERT OR UPDATE OR DELETE ON users"
          + " FOR EACH ROW EXECUTE FUNCTION log_apply();"
          + "ALTER TABLE users ENABLE ALWAYS TRIGGER log_apply;";

  private ReplicationFixture fx;
  private String replicaDb;
  private final List<ReplicadorProcess> processes = new ArrayList<>();

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    exec(fx.primaryCluster, fx.primaryDb, TABLE, ORIGIN_FUNCTION);
    replicaDb = fx.replicaDb("r1");
    exec(fx.replicaCluster, replicaDb, TABLE, REPLICA_AUDIT);
  }

  @AfterEach
  void tearDown() throws Exception {
    for (ReplicadorProcess p : processes) {
      p.close();
    }
    fx.close();
  }

  private void originTrigger(String ddl) {
    exec(fx.primaryCluster, fx.primaryDb, ddl);
  }

  /** Starts {@code replicador publish --notify-channel users_changed}; returns once it listens. */
  private ReplicadorProcess startPublisher() {
    ReplicadorProcess p =
        ReplicadorProcess.start(
            "publish",
            "--primary",
            fx.primaryUri(),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange,
            "--notify-channel",
            "users_changed");
    processes.add(p);
    await()
        .atMost(Duration.ofSeconds(90))
        .failFast("publisher exited: " + p.output(), () -> !p.isAlive())
        .until(() -> p.output().contains("Also listening for origin-design row payloads"));
    return p;
  }

  private void startListener() {
    fx.startListener("r1", Set.of());
  }

  private void primary(String... sql) {
    exec(fx.primaryCluster, fx.primaryDb, sql);
  }

  private String replica(String sql) {
    return query(fx.replicaCluster, replicaDb, sql);
  }

  private void awaitReplicaEqualsPrimary() {
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () ->
                assertThat(checksum(fx.replicaCluster, replicaDb, "users", "id"))
                    .isEqualTo(checksum(fx.primaryCluster, fx.primaryDb, "users", "id")));
  }

  private void awaitOnReplica(String sql, String expected) {
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> expected.equals(replica(sql)));
  }

  @Test
  void replicatesInsertsAndUpdatesWithQuotesBackslashesAndNonLatinText() {
    originTrigger(ORIGIN_TRIGGER);
    startListener();
    startPublisher();
    primary(
        "INSERT INTO users VALUES"
            + " (1, 'O''Brien said \"hi\" \\ back\\slash \\n not a newline', E'tab\\there\\nline',"
            + " 1234.50, '1999-12-31', '2024-02-29 23:59:59.123456+05:30',"
            + " ARRAY['a,b', 'c\"d', 'e\\f', NULL, ''], '{\"k\": [1, 2.50, null, \"ü\"]}',"
            + " '\\x00ff10'),"
            + " (2, 'Zoë Ωμέγα Привет 日本語 עברית 😀', NULL, -0.01, NULL, NULL, '{}', '{}', ''),"
            + " (3, '{\"table\": \"users\", \"operation\": \"DELETE\"}', 'null', NULL, NULL,"
            + " 'infinity', NULL, '[]', NULL)",
        "INSERT INTO users (id, name) SELECT g, 'bulk ' || g FROM generate_series(10, 60) g",
        "UPDATE users SET bio = 'quote '' backslash \\ \"dq\" ✓' WHERE id IN (1, 2)",
        "UPDATE users SET name = name || ' (edited)', balance = 7 WHERE id BETWEEN 10 AND 30",
        // a key change: the old record names the row to update
        "UPDATE users SET id = 100, name = 'was 3' WHERE id = 3");
    awaitReplicaEqualsPrimary();
    assertThat(replica("SELECT name FROM users WHERE id = 2"))
        .isEqualTo("Zoë Ωμέγα Привет 日本語 עברית 😀");
    assertThat(replica("SELECT bio FROM users WHERE id = 1"))
        .isEqualTo("quote ' backslash \\ \"dq\" ✓");
    assertThat(replica("SELECT count(*) FROM users WHERE id = 3")).isEqualTo("0");
    // no row inserted twice (a payload is a hint: an insert the publisher reads after a later
    // change of its row ships that row as it is then, or nothing once it is gone)
    assertThat(
            replica(
                "SELECT count(*) FROM (SELECT id FROM apply_log WHERE op = 'INSERT'"
                    + " GROUP BY id HAVING count(*) > 1) twice"))
        .isEqualTo("0");
    // the origin trigger is left alone; only the changelog schema was added (no triggers)
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT string_agg(tgname, ',') FROM pg_trigger WHERE tgrelid = 'users'::regclass"))
        .isEqualTo("users_changed");
  }

  @Test
  void replicatesDeletesWhenTheTriggerAlsoFiresOnDelete() {
    originTrigger(ORIGIN_TRIGGER_WITH_DELETE);
    startListener();
    startPublisher();
    primary(
        "INSERT INTO users (id, name) SELECT g, 'user ' || g FROM generate_series(1, 40) g",
        "DELETE FROM users WHERE id % 4 = 0",
        "UPDATE users SET name = 'renamed' WHERE id = 1",
        "DELETE FROM users WHERE id = 1");
    awaitReplicaEqualsPrimary();
    assertThat(replica("SELECT count(*) FROM users")).isEqualTo("29");
    assertThat(
            replica(
                "SELECT count(*) FROM (SELECT id FROM apply_log WHERE op = 'DELETE'"
                    + " GROUP BY id HAVING count(*) > 1) twice"))
        .isEqualTo("0");
  }

  @Test
  void skipsPayloadsNotInTheOriginFormatWithAReasonAndKeepsPublishing() {
    originTrigger(ORIGIN_TRIGGER);
    startListener();
    ReplicadorProcess publisher = startPublisher();
    // a payload is a hint: sent by hand, it ships row 7 as the primary holds it
    primary(
        "ALTER TABLE users DISABLE TRIGGER users_changed",
        "INSERT INTO users (id, name) VALUES (7, 'on the primary')",
        "ALTER TABLE users ENABLE TRIGGER users_changed");
    String good =
        "{\"table\":\"users\",\"operation\":\"INSERT\","
            + "\"new_record\":{\"id\":7,\"name\":\"sent by hand\"},\"old_record\":null}";
    primary(
        "SELECT pg_notify('users_changed', 'user 5 changed')",
        "SELECT pg_notify('users_changed', '{\"table\":\"users\",\"operation\":\"INSERT\"}')",
        "SELECT pg_notify('users_changed', '{\"table\":\"accounts\",\"operation\":\"INSERT\","
            + "\"new_record\":{\"id\":1},\"old_record\":null}')",
        "SELECT pg_notify('users_changed', '{\"table\":\"users\",\"operation\":\"MERGE\","
            + "\"new_record\":{\"id\":1},\"old_record\":null}')");
    // one transaction: a record the server cannot read as a users row, then a good one
    primary(
        "BEGIN;"
            + "SELECT pg_notify('users_changed', '{\"table\":\"users\",\"operation\":\"INSERT\","
            + "\"new_record\":{\"id\":\"eight\",\"name\":\"x\"},\"old_record\":null}');"
            + "SELECT pg_notify('users_changed', '"
            + good
            + "');"
            + "COMMIT");
    primary("INSERT INTO users (id, name) VALUES (9, 'after the bad ones')");
    awaitOnReplica("SELECT string_agg(id::text, ',' ORDER BY id) FROM users", "7,9");
    assertThat(replica("SELECT name FROM users WHERE id = 7")).isEqualTo("on the primary");
    assertThat(publisher.isAlive()).isTrue();
    assertThat(publisher.output())
        .contains("Skipped a notification on channel 'users_changed': payload is not JSON")
        .contains(
            "Skipped a notification on channel 'users_changed': payload has no"
                + " \"new_record\" key")
        .contains("table \"accounts\" does not exist on the primary")
        .contains("unknown operation \"MERGE\"")
        .contains("could not read its record as a row of \"public\".\"users\"");
  }

  @Test
  void aPublisherRestartLosesTheNotificationsSentWhileItWasDown() throws Exception {
    originTrigger(ORIGIN_TRIGGER);
    startListener();
    ReplicadorProcess first = startPublisher();
    primary("INSERT INTO users (id, name) VALUES (1, 'before the restart')");
    awaitOnReplica("SELECT count(*) FROM users", "1");
    first.close();
    assertThat(first.isAlive()).isFalse();
    primary(
        "INSERT INTO users (id, name) VALUES (2, 'while no publisher listens')",
        "UPDATE users SET name = 'changed while down' WHERE id = 1");
    startPublisher();
    primary("INSERT INTO users (id, name) VALUES (3, 'after the restart')");
    awaitOnReplica("SELECT string_agg(id::text, ',' ORDER BY id) FROM users", "1,3");
    // The limit of this mode, documented: the notifications sent while down are gone for good.
    assertThat(replica("SELECT name FROM users WHERE id = 1")).isEqualTo("before the restart");
    assertThat(query(fx.primaryCluster, fx.primaryDb, "SELECT count(*) FROM users")).isEqualTo("3");
  }

  @Test
  void identicalPayloadsInOneTransactionAreFoldedButTheRowIsReadFromThePrimary() {
    originTrigger(ORIGIN_TRIGGER_WITH_DELETE);
    startListener();
    startPublisher();
    primary(
        "BEGIN;"
            + "INSERT INTO users (id, name) VALUES (5, 'same');"
            + "DELETE FROM users WHERE id = 5;"
            + "INSERT INTO users (id, name) VALUES (5, 'same');" // same payload as the first
            + "COMMIT",
        "INSERT INTO users (id, name) VALUES (6, 'marker')");
    awaitOnReplica("SELECT count(*) FROM apply_log WHERE id = 6", "1");
    // PostgreSQL delivered INSERT and DELETE only; the payloads are hints, and the row is read
    // from the primary: the insert ships the row, the delete is superseded (the row is there).
    assertThat(query(fx.primaryCluster, fx.primaryDb, "SELECT count(*) FROM users WHERE id = 5"))
        .isEqualTo("1");
    assertThat(replica("SELECT count(*) FROM users WHERE id = 5")).isEqualTo("1");
  }

  @Test
  void aRowOverTheNotifyPayloadLimitAbortsTheWriteOnThePrimary() {
    originTrigger(ORIGIN_TRIGGER);
    assertThatThrownBy(
            () -> primary("INSERT INTO users (id, name, bio) VALUES (1, 'big', repeat('x', 9000))"))
        .hasMessageContaining("payload string too long");
    assertThat(query(fx.primaryCluster, fx.primaryDb, "SELECT count(*) FROM users")).isEqualTo("0");
  }

  @Test
  void switchingToInstallMidStreamDeliversEveryChangeOnceAndInOrder() throws Exception {
    int rows = 1_000;
    int waitAt = 700;
    originTrigger(ORIGIN_TRIGGER);
    startListener();
    startPublisher();
    CountDownLatch switched = new CountDownLatch(1);
    // Each transaction inserts row i and updates row i-1: an update right after the switch
    // would overtake the insert it follows if the switch let captured changes pass notified ones.
    CompletableFuture<Void> writes =
        CompletableFuture.runAsync(
            () -> {
              try (Connection c = fx.primaryCluster.connect(fx.primaryDb);
                  PreparedStatement insert =
                      c.prepareStatement("INSERT INTO users (id, name) VALUES (?, 'new')");
                  PreparedStatement update =
                      c.prepareStatement("UPDATE users SET name = 'updated' WHERE id = ?")) {
                c.setAutoCommit(false);
                for (int i = 1; i <= rows; i++) {
                  if (i == waitAt) {
                    switched.await(); // the rest is written after the switch
                  }
                  insert.setInt(1, i);
                  insert.executeUpdate();
                  update.setInt(1, i - 1);
                  update.executeUpdate();
                  c.commit();
                }
              } catch (SQLException | InterruptedException e) {
                throw new IllegalStateException(e);
              }
            });
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(20))
        .until(
            () ->
                Integer.parseInt(
                        query(fx.primaryCluster, fx.primaryDb, "SELECT count(*) FROM users"))
                    >= 100);
    int status;
    try {
      status =
          Main.run(
              "install",
              "--primary",
              fx.primaryUri(),
              "--tables",
              "public.users",
              "--replace-trigger",
              "users_changed");
    } finally {
      switched.countDown();
    }
    assertThat(status).isZero();
    writes.get();
    awaitReplicaEqualsPrimary();
    assertThat(replica("SELECT count(*) FROM apply_log WHERE op = 'INSERT'"))
        .isEqualTo(String.valueOf(rows));
    assertThat(replica("SELECT count(*) FROM apply_log WHERE op = 'UPDATE'"))
        .isEqualTo(String.valueOf(rows - 1));
    assertThat(replica("SELECT count(*) FROM apply_log WHERE op NOT IN ('INSERT', 'UPDATE')"))
        .isEqualTo("0");
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger"
                    + " WHERE tgrelid = 'users'::regclass"))
        .isEqualTo("replicador_capture,replicador_capture_insert,replicador_truncate");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                "0"
                    .equals(
                        query(
                            fx.primaryCluster,
                            fx.primaryDb,
                            "SELECT count(*) FROM replicador.changelog")));
  }

  /** A role that may connect to the primary's database and nothing more. */
  private String loginRole() {
    String role = "mallory_" + fx.name.substring(fx.name.lastIndexOf('_') + 1);
    primary("CREATE ROLE " + role + " LOGIN");
    return role;
  }

  private static String forgedSalary(String table) {
    return "{\"table\":\""
        + table
        + "\",\"operation\":\"UPDATE\",\"new_record\":{\"id\":1,\"amount\":1000000},"
        + "\"old_record\":{\"id\":1,\"amount\":100}}";
  }

  private void salariesOnBothSides(boolean originTrigger) {
    String table = "CREATE TABLE salaries (id int PRIMARY KEY, amount numeric)";
    primary(table, "INSERT INTO salaries VALUES (1, 100)");
    exec(fx.replicaCluster, replicaDb, table, "INSERT INTO salaries VALUES (1, 100)");
    if (originTrigger) {
      primary(
          ORIGIN_TRIGGER
              .replace("users_changed\n", "salaries_changed\n")
              .replace("ON users", "ON salaries"));
    }
  }

  /** Issue 21: the payload names a table the role cannot even read. */
  @Test
  void aForgedNotifyFromARoleThatCannotWriteTheTableIsRejected() throws Exception {
    originTrigger(ORIGIN_TRIGGER);
    salariesOnBothSides(true);
    String role = loginRole();
    try {
      startListener();
      ReplicadorProcess publisher = startPublisher();
      // the session stays connected until the publisher has seen who sent it
      try (Connection mallory =
              java.sql.DriverManager.getConnection(
                  fx.primaryCluster
                      .jdbcUrl(fx.primaryDb)
                      .replace("user=postgres", "user=" + role));
          PreparedStatement notify =
              mallory.prepareStatement("SELECT pg_notify('users_changed', ?)")) {
        notify.setString(1, forgedSalary("salaries"));
        notify.execute();
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> publisher.output().contains("Rejected a notification on channel"));
      }
      assertThat(publisher.output())
          .contains(
              "Rejected a notification on channel 'users_changed': it was sent by role '"
                  + role
                  + "'")
          .contains("which may not UPDATE \"public\".\"salaries\"");
      primary("INSERT INTO users (id, name) VALUES (1, 'marker')");
      awaitOnReplica("SELECT count(*) FROM users", "1");
      assertThat(replica("SELECT amount FROM salaries WHERE id = 1")).isEqualTo("100");
    } finally {
      primary("DROP ROLE " + role);
    }
  }

  /** Issue 21: no trigger notifies for this table, so no notification about it is believed. */
  @Test
  void aForgedNotifyForATableNoTriggerCoversIsRejected() {
    originTrigger(ORIGIN_TRIGGER);
    salariesOnBothSides(false);
    startListener();
    ReplicadorProcess publisher = startPublisher();
    primary("SELECT pg_notify('users_changed', '" + forgedSalary("salaries") + "')");
    primary("INSERT INTO users (id, name) VALUES (1, 'marker')");
    awaitOnReplica("SELECT count(*) FROM users", "1");
    assertThat(replica("SELECT amount FROM salaries WHERE id = 1")).isEqualTo("100");
    assertThat(publisher.output())
        .contains(
            "Rejected a notification on channel 'users_changed': table \"public\".\"salaries\""
                + " has no enabled trigger that notifies on channel 'users_changed'");
  }

  /**
   * Issue 21: even a session that may write the table cannot make a replica hold what the primary
   * does not: the payload is a hint, and the row shipped is the primary's.
   */
  @Test
  void aForgedPayloadFromAWriterShipsThePrimarysRowNotThePayload() {
    originTrigger(ORIGIN_TRIGGER);
    startListener();
    startPublisher();
    primary("INSERT INTO users (id, name) VALUES (1, 'real')");
    awaitOnReplica("SELECT name FROM users WHERE id = 1", "real");
    primary(
        "SELECT pg_notify('users_changed', '{\"table\":\"users\",\"operation\":\"UPDATE\","
            + "\"new_record\":{\"id\":1,\"name\":\"forged\"},\"old_record\":{\"id\":1}}')",
        "SELECT pg_notify('users_changed', '{\"table\":\"users\",\"operation\":\"INSERT\","
            + "\"new_record\":{\"id\":666,\"name\":\"forged\"},\"old_record\":null}')",
        "SELECT pg_notify('users_changed', '{\"table\":\"users\",\"operation\":\"DELETE\","
            + "\"new_record\":null,\"old_record\":{\"id\":1}}')");
    primary("INSERT INTO users (id, name) VALUES (2, 'marker')");
    awaitOnReplica(
        "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM users", "1=real,2=marker");
  }

  @Test
  void replaceTriggerRefusesATableWithoutThatTriggerAndChangesNothing() {
    originTrigger(ORIGIN_TRIGGER);
    assertThat(
            Main.run(
                "install",
                "--primary",
                fx.primaryUri(),
                "--tables",
                "public.users",
                "--replace-trigger",
                "accounts_changed"))
        .isEqualTo(Main.EXIT_ERROR);
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT string_agg(tgname, ',') FROM pg_trigger WHERE tgrelid = 'users'::regclass"))
        .isEqualTo("users_changed");
  }
}
