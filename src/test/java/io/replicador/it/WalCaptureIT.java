package io.replicador.it;

import static io.replicador.testing.Db.checksum;
import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicador.testing.CliRun;
import io.replicador.testing.PgCluster;
import io.replicador.testing.ReplicadorProcess;
import io.replicador.testing.TestEnvironment;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * What capture from the WAL adds to the pipeline: the checks before install, unchanged TOASTed
 * values, the move between triggers and slot under writes, the retained WAL, an invalidated slot,
 * and uninstall. The pipeline's own tests run with the slot in the Wal*IT classes.
 */
class WalCaptureIT {
  private static final String EVENTS = "CREATE TABLE events (id bigint PRIMARY KEY, note text)";

  /** On a replica: a log of every row the listener applies, fired in replica role too. */
  private static final String APPLY_LOG =
      "CREATE TABLE apply_log (id bigint, op text);"
          + "CREATE FUNCTION log_apply() RETURNS trigger LANGUAGE plpgsql AS"
          + " $$ BEGIN INSERT INTO apply_log VALUES (NEW.id, TG_OP); RETURN NULL; END $$;"
          + "CREATE TRIGGER log_apply AFTER INSERT OR UPDATE ON events"
          + " FOR EACH ROW EXECUTE FUNCTION log_apply();"
          + "ALTER TABLE events ENABLE ALWAYS TRIGGER log_apply";

  private ReplicationFixture fx;
  private String replicaDb;

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private void primary(String... sql) {
    exec(fx.primaryCluster, fx.primaryDb, sql);
  }

  private static CliRun run(String... args) {
    return CliRun.of(args);
  }

  private String nothingInstalled(PgCluster cluster, String db) {
    return query(
        cluster,
        db,
        "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'replicador') || ','"
            + " || (SELECT count(*) FROM pg_publication) || ','"
            + " || (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())");
  }

  private void awaitEqual(String table) {
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () ->
                assertThat(checksum(fx.replicaCluster, replicaDb, table, "id"))
                    .isEqualTo(checksum(fx.primaryCluster, fx.primaryDb, table, "id")));
  }

  @Test
  void installSaysWhatTheRoleLacksOneLineEachThenALeastPrivilegedRoleReplicates() {
    String role = TestEnvironment.uniqueName("walrole");
    primary(
        "CREATE ROLE " + role + " LOGIN",
        EVENTS,
        "CREATE TABLE other (id int PRIMARY KEY, v text)",
        "ALTER TABLE other OWNER TO " + role,
        "ALTER TABLE other REPLICA IDENTITY NOTHING");
    String uri = fx.primaryUri().replace("postgresql://postgres@", "postgresql://" + role + "@");
    CliRun refused =
        run("install", "--capture", "wal", "--primary", uri, "--tables", "events,other");
    assertThat(refused.status()).isEqualTo(2);
    assertThat(refused.err().lines().toList())
        .anyMatch(l -> l.contains("may not read a replication slot: ALTER ROLE \"" + role))
        .anyMatch(l -> l.contains("may not create the publication: GRANT CREATE ON DATABASE"))
        .anyMatch(l -> l.contains("\"public\".\"events\" belongs to role postgres"))
        .anyMatch(l -> l.contains("REPLICA IDENTITY NOTHING"))
        .anyMatch(l -> l.contains("nothing was installed"));
    assertThat(nothingInstalled(fx.primaryCluster, fx.primaryDb)).isEqualTo("0,0,0");

    // the grants the lines named, and no superuser: install, publish as that role
    primary(
        "ALTER ROLE " + role + " REPLICATION",
        "GRANT CREATE ON DATABASE " + fx.primaryDb + " TO " + role,
        "ALTER TABLE events OWNER TO " + role,
        "ALTER TABLE other REPLICA IDENTITY DEFAULT");
    assertThat(
            run("install", "--capture", "wal", "--primary", uri, "--tables", "events,other")
                .status())
        .isZero();
    exec(fx.replicaCluster, replicaDb, EVENTS, "CREATE TABLE other (id int PRIMARY KEY, v text)");
    fx.startListener("r1", Set.of());
    fx.startPublisher(uri);
    primary(
        "INSERT INTO events SELECT g, 'n' || g FROM generate_series(1, 100) g",
        "INSERT INTO other VALUES (1, 'one')",
        "UPDATE events SET note = 'changed' WHERE id <= 10");
    awaitEqual("events");
    awaitEqual("other");
  }

  @Test
  void aServerWithoutLogicalWalIsRefusedWithTheFixAndNothingInstalled() {
    try (PgCluster replicaLevel = PgCluster.start("walreplica", Map.of("wal_level", "replica"))) {
      String db = replicaLevel.createDatabase("wal_replica_level");
      exec(replicaLevel, db, EVENTS);
      CliRun refused =
          run(
              "install",
              "--capture",
              "wal",
              "--primary",
              replicaLevel.uri(db),
              "--tables",
              "events");
      assertThat(refused.status()).isEqualTo(2);
      assertThat(refused.err())
          .contains("wal_level is replica")
          .contains("set wal_level = logical")
          .contains("--capture trigger");
      assertThat(nothingInstalled(replicaLevel, db)).isEqualTo("0,0,0");
    }
  }

  @Test
  void unchangedToastedValuesKeepTheirValueOnTheReplica() {
    String ddl = "CREATE TABLE docs (id int PRIMARY KEY, body text, n int, tail text)";
    primary(ddl);
    exec(fx.replicaCluster, replicaDb, ddl);
    assertThat(
            run("install", "--capture", "wal", "--primary", fx.primaryUri(), "--tables", "docs")
                .status())
        .isZero();
    fx.startListener("r1", Set.of());
    fx.startPublisher();
    // md5 text barely compresses: stored out of line (TOAST), and not rewritten by an UPDATE
    // that leaves it alone, so pgoutput sends it as "unchanged"
    primary(
        "INSERT INTO docs SELECT g, (SELECT string_agg(md5(g::text || i::text), '')"
            + " FROM generate_series(1, 2000) i), 0, 'small' FROM generate_series(1, 5) g");
    awaitEqual("docs");
    primary(
        "UPDATE docs SET n = n + 1",
        "UPDATE docs SET tail = NULL, n = n + 1 WHERE id = 2",
        "UPDATE docs SET id = id + 100 WHERE id = 3",
        "UPDATE docs SET body = 'replaced' WHERE id = 4");
    awaitEqual("docs");
    assertThat(
            query(
                fx.replicaCluster,
                replicaDb,
                "SELECT string_agg(id || ':' || length(body) || ':' || n, ',' ORDER BY id)"
                    + " FROM docs"))
        .isEqualTo("1:64000:1,2:64000:2,4:8:1,5:64000:1,103:64000:1");
  }

  @Test
  void tablesMoveFromTriggersToTheSlotAndBackUnderWritesLosingAndDoublingNothing()
      throws Exception {
    primary(EVENTS);
    exec(fx.replicaCluster, replicaDb, EVENTS, APPLY_LOG);
    assertThat(run("install", "--primary", fx.primaryUri(), "--tables", "events").status())
        .isZero();
    fx.startListener("r1", Set.of());
    fx.startPublisher();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong written = new AtomicLong();
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              try (Connection c = fx.primaryCluster.connect(fx.primaryDb);
                  PreparedStatement ps =
                      c.prepareStatement("INSERT INTO events VALUES (?, 'event ' || ?)")) {
                while (!stop.get()) {
                  long id = written.get() + 1;
                  ps.setLong(1, id);
                  ps.setLong(2, id);
                  ps.executeUpdate();
                  written.set(id);
                }
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    await().atMost(Duration.ofSeconds(30)).until(() -> written.get() >= 300);
    assertThat(
            run("install", "--capture", "wal", "--primary", fx.primaryUri(), "--tables", "events")
                .status())
        .isZero();
    long atSlot = written.get();
    await().atMost(Duration.ofSeconds(30)).until(() -> written.get() >= atSlot + 300);
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT count(*) FROM pg_trigger" + " WHERE tgrelid = 'events'::regclass"))
        .isEqualTo("0");
    assertThat(
            run(
                    "install",
                    "--capture",
                    "trigger",
                    "--primary",
                    fx.primaryUri(),
                    "--tables",
                    "events")
                .status())
        .isZero();
    long atTriggers = written.get();
    await().atMost(Duration.ofSeconds(30)).until(() -> written.get() >= atTriggers + 300);
    stop.set(true);
    writer.get();
    awaitEqual("events");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM apply_log"))
        .as("each row applied once")
        .isEqualTo(String.valueOf(written.get()));
    // the publisher dropped slot and publication once it had shipped the slot's part
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(
                        query(
                            fx.primaryCluster,
                            fx.primaryDb,
                            "SELECT (SELECT count(*) FROM pg_publication) || ','"
                                + " || (SELECT count(*) FROM pg_replication_slots"
                                + " WHERE database = current_database())"))
                    .isEqualTo("0,0"));
  }

  @Test
  void aSlotNobodyReadsRetainsWalStatusShowsItAndItShipsWhenThePublisherComes() {
    primary(EVENTS);
    exec(fx.replicaCluster, replicaDb, EVENTS);
    assertThat(
            run("install", "--capture", "wal", "--primary", fx.primaryUri(), "--tables", "events")
                .status())
        .isZero();
    primary("INSERT INTO events SELECT g, repeat('x', 1000) FROM generate_series(1, 2000) g");
    CliRun status =
        run(
            "status",
            "--primary",
            fx.primaryUri(),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange);
    assertThat(status.out())
        .contains("capture: from the WAL, slot replicador_")
        .contains("nobody reads it")
        .containsPattern("retained WAL: [0-9.]+ MB");
    CliRun json =
        run(
            "status",
            "--json",
            "--primary",
            fx.primaryUri(),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange);
    assertThat(json.out()).contains("\"retainedBytes\"").contains("\"walStatus\" : \"reserved\"");
    fx.startListener("r1", Set.of());
    fx.startPublisher();
    awaitEqual("events");
  }

  @Test
  void anInvalidatedSlotStopsThePublisherWithTheFixAndStatusSaysSo() {
    try (PgCluster small =
        PgCluster.start("walkeep", Map.of("max_slot_wal_keep_size", "1MB", "wal_keep_size", "0"))) {
      String db = small.createDatabase("wal_invalidated");
      exec(small, db, EVENTS);
      assertThat(
              run("install", "--capture", "wal", "--primary", small.uri(db), "--tables", "events")
                  .status())
          .isZero();
      // nobody reads the slot: WAL past max_slot_wal_keep_size is removed at a checkpoint
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                exec(
                    small,
                    db,
                    "INSERT INTO events SELECT g, 'x' FROM generate_series(1, 1000) g"
                        + " ON CONFLICT (id) DO UPDATE SET note = events.note || 'x'",
                    "SELECT pg_switch_wal()",
                    "CHECKPOINT");
                return "lost"
                    .equals(query(small, db, "SELECT wal_status FROM pg_replication_slots"));
              });
      CliRun publish =
          run(
              "publish",
              "--primary",
              small.uri(db),
              "--amqp",
              TestEnvironment.amqpUri(),
              "--exchange",
              fx.exchange);
      assertThat(publish.status()).isEqualTo(2);
      assertThat(publish.err())
          .contains("invalidated replication slot")
          .contains("'replicador snapshot' for each replica");
      CliRun status =
          run(
              "status",
              "--primary",
              small.uri(db),
              "--amqp",
              TestEnvironment.amqpUri(),
              "--exchange",
              fx.exchange);
      assertThat(status.out()).contains("WARNING: the server invalidated the slot");
      assertThat(run("uninstall", "--primary", small.uri(db)).status()).isZero();
      assertThat(nothingInstalled(small, db)).isEqualTo("0,0,0");
    }
  }

  @Test
  void uninstallIsRefusedWhileAPublisherReadsTheSlotAndDropsEverythingAfter() throws Exception {
    primary(EVENTS);
    assertThat(
            run("install", "--capture", "wal", "--primary", fx.primaryUri(), "--tables", "events")
                .status())
        .isZero();
    var publisher = fx.startPublisher();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                "t"
                    .equals(
                        query(
                            fx.primaryCluster,
                            fx.primaryDb,
                            "SELECT active FROM pg_replication_slots"
                                + " WHERE database = current_database()")));
    CliRun refused = run("uninstall", "--primary", fx.primaryUri());
    assertThat(refused.status()).isEqualTo(2);
    assertThat(refused.err()).contains("A publisher reads slot").contains("nothing was changed");
    publisher.close();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> run("uninstall", "--primary", fx.primaryUri()).status() == 0);
    assertThat(nothingInstalled(fx.primaryCluster, fx.primaryDb)).isEqualTo("0,0,0");
  }

  @Test
  void aPublisherKilledInTheMiddleOfALargeTransactionLeavesItWholeAndOnce() throws Exception {
    primary(EVENTS);
    exec(fx.replicaCluster, replicaDb, EVENTS, APPLY_LOG);
    assertThat(
            run("install", "--capture", "wal", "--primary", fx.primaryUri(), "--tables", "events")
                .status())
        .isZero();
    // takes 8 messages at a time: the transaction's parts are staged on the replica as they come
    fx.startListener("r1", Set.of(), 8);
    String[] publish = {
      "publish",
      "--primary",
      fx.primaryUri(),
      "--amqp",
      TestEnvironment.amqpUri(),
      "--exchange",
      fx.exchange
    };
    try (ReplicadorProcess first = ReplicadorProcess.start(publish)) {
      primary("INSERT INTO events SELECT g, 'bulk ' || g FROM generate_series(1, 150000) g");
      await()
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(20))
          .until(
              () ->
                  Integer.parseInt(
                          query(
                              fx.replicaCluster,
                              replicaDb,
                              "SELECT count(*) FROM replicador.staged"))
                      >= 1);
      first.kill();
    }
    assertThat(
            query(
                fx.primaryCluster, fx.primaryDb, "SELECT next_position FROM replicador.publisher"))
        .as("killed before it had shipped the whole transaction")
        .isEqualTo("1");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM events"))
        .as("nothing of the transaction is visible before its last part")
        .isEqualTo("0");
    primary("INSERT INTO events VALUES (0, 'after')");
    try (ReplicadorProcess second = ReplicadorProcess.start(publish)) {
      await()
          .atMost(Duration.ofSeconds(180))
          .pollInterval(Duration.ofMillis(200))
          .failFast("the publisher died: " + second.output(), () -> !second.isAlive())
          .until(
              () ->
                  "1"
                      .equals(
                          query(
                              fx.replicaCluster,
                              replicaDb,
                              "SELECT count(*) FROM events WHERE id = 0")));
      awaitEqual("events");
    }
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM apply_log"))
        .as("each row applied once")
        .isEqualTo("150001");
  }
}
