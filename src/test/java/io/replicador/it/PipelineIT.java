package io.replicador.it;

import static io.replicador.testing.Db.checksum;
import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import io.replicador.apply.ReplicaListener;
import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.Relation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import io.replicador.cli.Main;
import io.replicador.codec.ChangeMessageCodec;
import io.replicador.publish.ChangePublisher;
import io.replicador.store.PrimaryStore;
import io.replicador.store.ReplicaStore;
import io.replicador.testing.RequiresRabbitMq;
import io.replicador.testing.TestEnvironment;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/** Install, publish and listen end to end against real PostgreSQL clusters and RabbitMQ. */
class PipelineIT {
  private static final String USERS = "public.users";
  private static final String ODD = "\"Sales Data\".\"Odd \"\"Table\"\" Name\"";
  private static final String BLOBS = "public.blobs";
  private static final String DDL =
      "CREATE TABLE public.users (id int PRIMARY KEY, name text NOT NULL, bio text);"
          + "CREATE SCHEMA \"Sales Data\";"
          + "CREATE TABLE "
          + ODD
          + " (k1 int, \"Key Two\" text, amount numeric,"
          + " PRIMARY KEY (k1, \"Key Two\"));"
          + "CREATE TABLE public.blobs (id int PRIMARY KEY, body text, data bytea);";

  private ReplicationFixture fx;
  private String r1;
  private String r2;

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    exec(fx.primaryCluster, fx.primaryDb, DDL);
    r1 = fx.replicaDb("r1");
    r2 = fx.replicaDb("r2");
    exec(fx.replicaCluster, r1, DDL);
    exec(
        fx.replicaCluster,
        r2,
        "CREATE TABLE public.users (id int PRIMARY KEY, name text, bio text)");
    assertThat(
            Main.run(
                "install",
                "--capture",
                capture(),
                "--primary",
                fx.primaryUri(),
                "--tables",
                USERS + "," + ODD + "," + BLOBS))
        .isZero();
  }

  /** The capture source under test; {@link WalPipelineIT} runs these tests with the slot. */
  String capture() {
    return "trigger";
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private void startAll() {
    fx.startListener("r1", Set.of());
    fx.startListener("r2", Set.of(TableName.parse(USERS)));
    fx.startPublisher();
  }

  private void awaitEqual(String replicaDb, String table, String orderBy) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () ->
                assertThat(checksum(fx.replicaCluster, replicaDb, table, orderBy))
                    .isEqualTo(checksum(fx.primaryCluster, fx.primaryDb, table, orderBy)));
  }

  @Test
  void replicatesEveryOperationToTwoReplicasOneTakingASubset() {
    startAll();
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO public.users SELECT g, 'user ' || g, NULL FROM generate_series(1, 50) g",
        "UPDATE public.users SET bio = 'likes ''quotes'' and \\backslashes\\' WHERE id % 5 = 0",
        "DELETE FROM public.users WHERE id > 45",
        "INSERT INTO " + ODD + " VALUES (1, 'a', 1.50), (1, 'b', 2), (2, 'a', NULL)",
        "UPDATE " + ODD + " SET amount = amount * 2",
        "DELETE FROM " + ODD + " WHERE k1 = 2",
        "INSERT INTO public.blobs VALUES (1, 'x', '\\x00ff')",
        "TRUNCATE public.blobs",
        "INSERT INTO public.blobs VALUES (2, 'after truncate', NULL)");
    awaitEqual(r1, USERS, "id");
    awaitEqual(r1, ODD, "k1, \"Key Two\"");
    awaitEqual(r1, BLOBS, "id");
    awaitEqual(r2, USERS, "id");
    assertThat(query(fx.replicaCluster, r1, "SELECT count(*) FROM public.users")).isEqualTo("45");
    assertThat(query(fx.replicaCluster, r1, "SELECT body FROM public.blobs"))
        .isEqualTo("after truncate");
    assertThat(query(fx.replicaCluster, r2, "SELECT to_regclass('public.blobs')")).isNull();
  }

  @Test
  void shipsALongTransactionThatCommitsAfterLaterOnes() throws Exception {
    startAll();
    try (Connection longTx = fx.primaryCluster.connect(fx.primaryDb)) {
      longTx.setAutoCommit(false);
      try (Statement st = longTx.createStatement()) {
        st.execute("INSERT INTO public.users VALUES (1, 'written first, committed last', NULL)");
      }
      exec(
          fx.primaryCluster,
          fx.primaryDb,
          "INSERT INTO public.users SELECT g, 'later ' || g, NULL FROM generate_series(2, 20) g");
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> "19".equals(query(fx.replicaCluster, r1, "SELECT count(*) FROM users")));
      longTx.commit();
    }
    awaitEqual(r1, USERS, "id");
    assertThat(query(fx.replicaCluster, r1, "SELECT name FROM users WHERE id = 1"))
        .isEqualTo("written first, committed last");
  }

  @Test
  void changesMadeWhileNoPublisherRunsArriveWhenItStarts() {
    fx.startListener("r1", Set.of());
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO public.users SELECT g, 'offline ' || g, NULL FROM generate_series(1, 500) g",
        "UPDATE public.users SET name = 'changed' WHERE id < 100");
    // the 500 rows of one INSERT statement are one changelog row
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT count(*) || ' rows, ' || sum(coalesce(cardinality(new_rows), 1))"
                    + " || ' changes' FROM replicador.changelog"))
        .isEqualTo("100 rows, 599 changes");
    fx.startPublisher();
    awaitEqual(r1, USERS, "id");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                "0"
                    .equals(
                        query(
                            fx.primaryCluster,
                            fx.primaryDb,
                            "SELECT count(*) FROM replicador.changelog")));
  }

  @Test
  void rowsOfOneInsertStatementTravelInGroupsBoundedByCountAndSize() {
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO public.users SELECT g, 'bulk ' || g, NULL FROM generate_series(1, 2500) g",
        "INSERT INTO public.users SELECT g, 'big ' || g, repeat(g::text, 2250000)"
            + " FROM generate_series(3001, 3003) g",
        "INSERT INTO public.users SELECT g, 'mixed ' || g,"
            + " CASE WHEN g = 3502 THEN repeat('x', 20000) END FROM generate_series(3501, 3503) g",
        "INSERT INTO public.users VALUES (4000, 'single', NULL)");
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT string_agg(op::text || coalesce(cardinality(new_rows), 1), ','"
                    + " ORDER BY txid, coalesce(cardinality(new_rows), 1) DESC)"
                    + " FROM replicador.changelog"))
        .as("1,000 rows at most, and a row over 16 kB alone (unordered within a statement)")
        .isEqualTo("B1000,B1000,B500,B1,B1,B1,B2,B1,I1");
    startAll();
    awaitEqual(r1, USERS, "id");
    awaitEqual(r2, USERS, "id");
  }

  @Test
  void aRoleAllowedOnlyToWriteTheTableStillWritesItOnceItIsCaptured() {
    // roles belong to the cluster, not the database: named after this run's database
    String role = "writer_" + fx.primaryDb.substring(fx.primaryDb.lastIndexOf('_') + 1);
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "CREATE ROLE " + role,
        "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.users TO " + role);
    try {
      exec(
          fx.primaryCluster,
          fx.primaryDb,
          "SET ROLE " + role,
          "INSERT INTO public.users VALUES (1, 'one', NULL), (2, 'two', NULL)",
          "INSERT INTO public.users VALUES (3, 'three', NULL)",
          "UPDATE public.users SET name = 'uno' WHERE id = 1",
          "DELETE FROM public.users WHERE id = 2",
          "TRUNCATE public.users",
          "INSERT INTO public.users VALUES (4, 'four', NULL)");
      startAll();
      awaitEqual(r1, USERS, "id");
      assertThat(query(fx.replicaCluster, r1, "SELECT string_agg(name, ',') FROM public.users"))
          .isEqualTo("four");
    } finally {
      exec(fx.primaryCluster, fx.primaryDb, "DROP OWNED BY " + role, "DROP ROLE " + role);
    }
  }

  @Test
  void rowsOfOneStatementShipInOrderWhateverPlanTheDatabaseLeansTo() {
    // A changelog whose physical order is not id order (vacuum reuses space; here updates turn
    // one statement's fifty entries around), read under a setting that steers the planner to a
    // scan in physical order and a sort on the id: a sort larger than work_mem reorders the rows
    // within an entry, and the publisher refuses rows out of order (it stopped here, and again
    // after each restart), so it must read them in a way that keeps their order.
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "ALTER DATABASE " + fx.primaryDb + " SET enable_indexscan = off",
        "INSERT INTO public.users SELECT g, 'bulk ' || g, NULL FROM generate_series(1, 50000) g",
        "DO $$ DECLARE k bigint; BEGIN"
            + " FOR k IN SELECT id FROM replicador.changelog ORDER BY id DESC LOOP"
            + " UPDATE replicador.changelog SET op = op WHERE id = k; END LOOP; END $$");
    startAll();
    awaitEqual(r1, USERS, "id");
    awaitEqual(r2, USERS, "id");
  }

  @Test
  void replicatesLargeValuesAndKeyChanges() {
    startAll();
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO public.blobs VALUES (1, repeat('é€😀', 350000),"
            + " (SELECT string_agg(decode(lpad(to_hex(g % 256), 2, '0'), 'hex'), ''::bytea)"
            + " FROM generate_series(1, 3000000) g))",
        "INSERT INTO public.users VALUES (1, 'one', NULL), (2, 'two', NULL)",
        "UPDATE public.users SET id = 10, name = 'was one' WHERE id = 1",
        "UPDATE " + ODD + " SET k1 = 5",
        "INSERT INTO " + ODD + " VALUES (7, 'x', 1)",
        "UPDATE " + ODD + " SET \"Key Two\" = 'y', amount = 3 WHERE k1 = 7");
    awaitEqual(r1, BLOBS, "id");
    awaitEqual(r1, USERS, "id");
    awaitEqual(r1, ODD, "k1, \"Key Two\"");
    assertThat(query(fx.replicaCluster, r1, "SELECT octet_length(body) FROM blobs"))
        .isEqualTo(query(fx.primaryCluster, fx.primaryDb, "SELECT octet_length(body) FROM blobs"))
        .isNotEqualTo("0");
    assertThat(
            query(fx.replicaCluster, r1, "SELECT string_agg(id::text, ',' ORDER BY id) FROM users"))
        .isEqualTo("2,10");
  }

  @Test
  void appliesAHugeTransactionAtomicallyWholeOrFromStagedParts() {
    // 30,000 rows travel as 30 parts: r1 takes 8 messages at a time, so it must stage parts on
    // the replica; r2 takes them all in one replica transaction
    fx.startListener("r1", Set.of(), 8);
    fx.startListener("r2", Set.of(TableName.parse(USERS)));
    fx.startPublisher();
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO public.users SELECT g, 'bulk ' || g, repeat('x', 100)"
            + " FROM generate_series(1, 30000) g");
    awaitEqual(r1, USERS, "id");
    awaitEqual(r2, USERS, "id");
    assertThat(query(fx.replicaCluster, r1, "SELECT count(*) FROM replicador.staged"))
        .isEqualTo("0");
  }

  @Test
  void partsPublishedTwiceAreAppliedOnce() throws Exception {
    // a publisher that resumes its claimed batch publishes its first parts again: r1 gets all
    // parts in one batch, r2 (two messages at a time) stages some and holds others
    fx.startListener("r1", Set.of());
    fx.startListener("r2", Set.of(TableName.parse(USERS)), 2);
    publishParts("twice", 1, 3, 0, 1, 0, 1, 2, 3);
    for (String replica : List.of(r1, r2)) {
      awaitUsers(replica, "400");
      assertThat(query(fx.replicaCluster, replica, "SELECT count(*) FROM replicador.staged"))
          .isEqualTo("0");
    }
  }

  @Test
  void aLargeTransactionIsUnseenUntilItsLastPartEvenAcrossAListenerRestart() throws Exception {
    ReplicaListener listener = fx.startListener("r2", Set.of(TableName.parse(USERS)), 2);
    publishParts("restart", 1, 3, 0, 1, 2);
    // the parts so far are staged, and applied in a replica transaction left open for the rest
    // (replicador.staged exists once the listener has started)
    await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .until(
            () -> query(fx.replicaCluster, r2, "SELECT count(*) FROM replicador.staged"),
            "3"::equals);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                query(
                    fx.replicaCluster,
                    r2,
                    "SELECT count(*) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND state = 'idle in transaction'"),
            "1"::equals);
    assertThat(query(fx.replicaCluster, r2, "SELECT count(*) FROM users")).isEqualTo("0");
    listener.close(); // the open transaction is lost; the staged parts are not
    fx.startListener("r2", Set.of(TableName.parse(USERS)), 2);
    publishParts("restart", 1, 3, 3);
    awaitUsers(r2, "400");
    assertThat(query(fx.replicaCluster, r2, "SELECT count(*) FROM replicador.staged"))
        .isEqualTo("0");
  }

  @Test
  void anotherSourcesTransactionBetweenTheParts() throws Exception {
    fx.startListener("r2", Set.of(TableName.parse(USERS)), 2);
    publishParts("first", 1, 3, 0, 1);
    publishParts("second", 1, 0, 0);
    publishParts("first", 1, 3, 2, 3);
    awaitUsers(r2, "500");
    assertThat(query(fx.replicaCluster, r2, "SELECT count(*) FROM replicador.staged"))
        .isEqualTo("0");
  }

  /**
   * Publishes the given parts, in that order, of the source's transaction at {@code position},
   * which ends with {@code lastPart}: each inserts 100 users with keys of its own.
   */
  private void publishParts(String source, long position, int lastPart, int... parts)
      throws Exception {
    Relation users =
        new Relation(TableName.parse(USERS), List.of("id", "name", "bio"), List.of("id"));
    ChangeMessageCodec codec = new ChangeMessageCodec();
    int base = source.hashCode() % 1000 * 1000;
    for (int part : parts) {
      List<Change> changes = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        int id = base + part * 100 + i;
        changes.add(
            new Change(Operation.INSERT, users, List.of("" + id, "n" + id, "b"), List.of()));
      }
      SourceTransaction tx =
          new SourceTransaction(position, "" + (100 + position), part, part == lastPart, changes);
      fx.publishRaw(
          codec.encode(new ChangeMessage(source, List.of(tx))),
          new AMQP.BasicProperties.Builder().deliveryMode(2).build());
    }
  }

  private void awaitUsers(String replica, String count) {
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(query(fx.replicaCluster, replica, "SELECT count(*) FROM users"))
                    .isEqualTo(count));
  }

  @Test
  void bulkInsertsOfRowsTheReplicaAlreadyHasOverwriteThem() {
    // as after a snapshot that already copied some rows: COPY into the table meets existing
    // keys, and the run goes the upsert way instead
    exec(
        fx.replicaCluster,
        r1,
        "INSERT INTO public.users SELECT g, 'stale', NULL FROM generate_series(1, 500) g");
    startAll();
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO public.users SELECT g, 'fresh ' || g, 'b' FROM generate_series(1, 1000) g");
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO public.users SELECT g, 'more ' || g, 'c' FROM generate_series(1001, 2000) g");
    awaitEqual(r1, USERS, "id");
    awaitEqual(r2, USERS, "id");
  }

  @Test
  void aChangelogOfAnEarlierVersionIsRefusedUntilInstallRunsAgainAndKeepsItsChanges()
      throws Exception {
    // what earlier versions installed: no numbered schema version, no column for rows stored
    // together, no doorbell sequence; and a change waiting in it
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO public.users VALUES (1, 'written before the upgrade', NULL)",
        "DROP TABLE replicador.schema_version",
        "ALTER TABLE replicador.changelog DROP COLUMN new_rows",
        "DROP SEQUENCE replicador.bell");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream saved = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      // the publisher stops at once with the fix rather than retry what waiting cannot heal
      assertThat(
              Main.run(
                  "publish",
                  "--primary",
                  fx.primaryUri(),
                  "--exchange",
                  fx.exchange,
                  "--amqp",
                  TestEnvironment.amqpUri()))
          .isEqualTo(Main.EXIT_ERROR);
    } finally {
      System.setErr(saved);
    }
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("older version of Replicador")
        .contains("run 'replicador install' for the captured tables again");
    assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", USERS)).isZero();
    try (Connection c = fx.primaryCluster.connect(fx.primaryDb)) {
      c.setAutoCommit(false);
      new PrimaryStore(c, "primary").requireCurrent();
    }
    startAll();
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO public.users VALUES (2, 'after', NULL), (3, 'after', NULL)");
    awaitEqual(r1, USERS, "id");
    assertThat(query(fx.replicaCluster, r1, "SELECT count(*) FROM users")).isEqualTo("3");
  }

  @Test
  void aSchemaOfANewerVersionIsRefusedOnEitherSide() throws Exception {
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO replicador.schema_version VALUES (99)");
    try (Connection c = fx.primaryCluster.connect(fx.primaryDb)) {
      c.setAutoCommit(false);
      assertThatThrownBy(() -> new PrimaryStore(c, "primary").requireCurrent())
          .hasMessageContaining("version 99")
          .hasMessageContaining("upgrade Replicador");
    }
    try (Connection c = fx.replicaCluster.connect(r1)) {
      ReplicaStore.migrate(c);
      exec(fx.replicaCluster, r1, "INSERT INTO replicador.schema_version VALUES (99)");
      assertThatThrownBy(() -> ReplicaStore.migrate(c)).hasMessageContaining("version 99");
    }
  }

  @Test
  void aReplicaBookkeptByAnEarlierVersionIsUpgradedByTheListenerAndKeepsItsPosition()
      throws Exception {
    startAll();
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO public.users VALUES (1, 'one', NULL)");
    awaitEqual(r1, USERS, "id");
    fx.stopServices(); // publisher and listeners; the queues stay
    // the replica's bookkeeping as earlier versions left it: no numbered version, no snapshot
    // boundary columns
    exec(
        fx.replicaCluster,
        r1,
        "DROP TABLE replicador.schema_version",
        "ALTER TABLE replicador.snapshot DROP COLUMN source, DROP COLUMN primary_snapshot");
    startAll();
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO public.users VALUES (2, 'two', NULL)");
    awaitEqual(r1, USERS, "id");
    assertThat(query(fx.replicaCluster, r1, "SELECT max(version) FROM replicador.schema_version"))
        .isEqualTo("4");
  }

  @Test
  void anArmedDoorbellRingsForEachWritingTransactionAndAnUnarmedOneNever() throws Exception {
    try (Connection listening = fx.primaryCluster.connect(fx.primaryDb);
        Statement st = listening.createStatement()) {
      st.execute("LISTEN replicador");
      exec(
          fx.primaryCluster,
          fx.primaryDb,
          "SELECT setval('replicador.bell', 1)",
          "INSERT INTO public.users VALUES (1, 'one', NULL)",
          "INSERT INTO public.users SELECT g, 'many', NULL FROM generate_series(2, 50) g",
          "UPDATE public.users SET bio = 'b' WHERE id = 1",
          "DELETE FROM public.users WHERE id = 2",
          "TRUNCATE public.blobs",
          "NOTIFY replicador, 'end of armed'");
      assertThat(heardUntil(listening, "end of armed"))
          .as("one ring per writing transaction")
          .containsExactly("", "", "", "", "", "end of armed");
      exec(
          fx.primaryCluster,
          fx.primaryDb,
          "SELECT setval('replicador.bell', 0)",
          "INSERT INTO public.users VALUES (60, 'sixty', NULL)",
          "INSERT INTO public.users SELECT g, 'more', NULL FROM generate_series(61, 70) g",
          "UPDATE public.users SET bio = 'c' WHERE id = 1",
          "DELETE FROM public.users WHERE id = 3",
          "NOTIFY replicador, 'end of unarmed'");
      // notifications arrive in commit order: a ring would have come before the marker
      assertThat(heardUntil(listening, "end of unarmed")).containsExactly("end of unarmed");
    }
  }

  /** Whether the doorbell is armed: "t" or "f". */
  private static final String ARMED =
      "SELECT coalesce(pg_sequence_last_value('replicador.bell') = 1, false)";

  @Test
  void aPublisherStartingUnderLoadDisarmsTheDoorbellItFindsArmedAndNoWriterRingsIt()
      throws Exception {
    // as a publisher killed while idle leaves it; were it left so, every writer would pay a
    // NOTIFY for as long as the next publisher stays busy
    exec(fx.primaryCluster, fx.primaryDb, "SELECT setval('replicador.bell', 1)");
    fx.startListener("r1", Set.of());
    try (Writers writers = new Writers(2, 0);
        Connection listening = fx.primaryCluster.connect(fx.primaryDb);
        Statement st = listening.createStatement()) {
      await().atMost(Duration.ofSeconds(60)).until(() -> writers.written() >= 500); // load is on
      fx.startPublisher();
      awaitReplicaRows(r1, writers.written() + 1000); // the publisher ships under load
      st.execute("LISTEN replicador");
      awaitReplicaRows(r1, writers.written() + 1000);
      assertThat(query(fx.primaryCluster, fx.primaryDb, ARMED)).isEqualTo("f");
      PGNotification[] heard = listening.unwrap(PGConnection.class).getNotifications(100);
      assertThat(heard == null ? List.of() : List.of(heard))
          .as("rings while the publisher keeps up with a busy stream")
          .isEmpty();
    }
  }

  @Test
  void aTrickleOfChangesIsClaimedWhenTheDoorbellRingsNotByPolling() throws Exception {
    fx.startListener("r1", Set.of());
    ChangePublisher publisher = fx.startPublisher();
    await() // quiet: armed, sleeping in LISTEN
        .atMost(Duration.ofSeconds(30))
        .until(() -> query(fx.primaryCluster, fx.primaryDb, ARMED), "t"::equals);
    long before = publisher.claims();
    int changes = 60;
    try (Writers writers = new Writers(1, 50)) { // one insert every 50 ms
      awaitReplicaRows(r1, changes);
    }
    // polling every few milliseconds for the three seconds would make hundreds of claims
    assertThat(publisher.claims() - before)
        .as("claims for %d changes", changes)
        .isLessThan(2L * changes + 40);
  }

  @Test
  void aPublisherStoppedWhileIdleLeavesTheDoorbellUnarmed() {
    fx.startListener("r1", Set.of());
    ChangePublisher publisher = fx.startPublisher();
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO public.users VALUES (1, 'one', NULL)");
    awaitEqual(r1, USERS, "id");
    await() // idle: armed, sleeping in LISTEN
        .atMost(Duration.ofSeconds(30))
        .until(() -> query(fx.primaryCluster, fx.primaryDb, ARMED), "t"::equals);
    publisher.close();
    assertThat(query(fx.primaryCluster, fx.primaryDb, ARMED))
        .as("no writer pays a NOTIFY while no publisher listens")
        .isEqualTo("f");
  }

  private void awaitReplicaRows(String replica, long rows) {
    await()
        .atMost(Duration.ofSeconds(120))
        .until(
            () -> Long.parseLong(query(fx.replicaCluster, replica, "SELECT count(*) FROM users")),
            n -> n >= rows);
  }

  /**
   * Connections inserting one row of {@code users} per transaction into the primary, each every
   * {@code everyMillis} (0: as fast as it can), until closed.
   */
  private final class Writers implements AutoCloseable {
    private final ScheduledExecutorService pool;
    private final AtomicLong written = new AtomicLong();
    private final List<Connection> connections = new ArrayList<>();

    Writers(int count, long everyMillis) throws Exception {
      pool = Executors.newScheduledThreadPool(count);
      for (int i = 0; i < count; i++) {
        Connection c = fx.primaryCluster.connect(fx.primaryDb);
        connections.add(c);
        Runnable insert =
            () -> {
              try (Statement st = c.createStatement()) {
                long id = written.incrementAndGet();
                st.execute("INSERT INTO public.users VALUES (" + id + ", 'load', NULL)");
              } catch (SQLException e) {
                throw new IllegalStateException(e);
              }
            };
        if (everyMillis > 0) {
          pool.scheduleAtFixedRate(insert, 0, everyMillis, TimeUnit.MILLISECONDS);
        } else {
          pool.scheduleWithFixedDelay(insert, 0, 1, TimeUnit.MICROSECONDS);
        }
      }
    }

    long written() {
      return written.get();
    }

    @Override
    public void close() throws Exception {
      pool.shutdownNow();
      pool.awaitTermination(10, TimeUnit.SECONDS);
      for (Connection c : connections) {
        c.close();
      }
    }
  }

  /** The payloads of the notifications on this connection, up to and including {@code last}. */
  private static List<String> heardUntil(Connection listening, String last) throws Exception {
    List<String> heard = new ArrayList<>();
    PGConnection pg = listening.unwrap(PGConnection.class);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              PGNotification[] received = pg.getNotifications(100);
              if (received != null) {
                for (PGNotification n : received) {
                  heard.add(n.getParameter());
                }
              }
              return heard.contains(last);
            });
    return heard;
  }

  @Test
  void installAgainMovesATableFromTheRowTriggersOfEarlierVersions() {
    // what capture_table created before inserts were captured per statement, and before the
    // capture functions rang the doorbell themselves (a stand-in for its statement trigger)
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "DROP TRIGGER replicador_capture ON users",
        "DROP TRIGGER replicador_capture_insert ON users",
        "CREATE TRIGGER replicador_capture AFTER INSERT OR UPDATE OR DELETE ON users"
            + " FOR EACH ROW EXECUTE FUNCTION replicador.capture_row('public', 'users')",
        "CREATE FUNCTION replicador.ring_doorbell() RETURNS trigger LANGUAGE plpgsql"
            + " AS $$ BEGIN PERFORM pg_notify('replicador', ''); RETURN NULL; END $$",
        "CREATE TRIGGER replicador_doorbell AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users"
            + " FOR EACH STATEMENT EXECUTE FUNCTION replicador.ring_doorbell()",
        "INSERT INTO users SELECT g, 'before ' || g, NULL FROM generate_series(1, 10) g");
    assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", USERS)).isZero();
    String triggers =
        "SELECT string_agg(tgname || ':' || (tgtype & 1), ',' ORDER BY tgname) FROM pg_trigger"
            + " WHERE tgrelid = 'users'::regclass";
    assertThat(query(fx.primaryCluster, fx.primaryDb, triggers))
        .as("name:1 for a row trigger, name:0 for a statement trigger")
        .isEqualTo("replicador_capture:1,replicador_capture_insert:0,replicador_truncate:0");
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO users SELECT g, 'after ' || g, NULL FROM generate_series(11, 20) g",
        "UPDATE users SET bio = 'updated' WHERE id % 3 = 0",
        "DELETE FROM users WHERE id % 4 = 0");
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT string_agg(op::text || count, ',' ORDER BY op) FROM"
                    + " (SELECT op, sum(coalesce(cardinality(new_rows), 1)) AS count"
                    + "  FROM replicador.changelog GROUP BY op) c"))
        .as("the old row trigger's 10 inserts, then one statement's 10 as a group")
        .isEqualTo("B10,D5,I10,U6");
    startAll();
    awaitEqual(r1, USERS, "id");
    assertThat(Main.run("uninstall", "--primary", fx.primaryUri(), "--tables", USERS)).isZero();
    assertThat(query(fx.primaryCluster, fx.primaryDb, triggers)).isNull();
  }

  @Test
  void installRefusesATableWithoutPrimaryKeyAndUninstallCleansUp() {
    exec(fx.primaryCluster, fx.primaryDb, "CREATE TABLE public.nokey (a int)");
    PrintStream oldErr = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int status;
    try {
      status = Main.run("install", "--primary", fx.primaryUri(), "--tables", "public.nokey");
    } finally {
      System.setErr(oldErr);
    }
    assertThat(status).isEqualTo(Main.EXIT_ERROR);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("public\".\"nokey\" has no primary key")
        .hasLineCount(1);
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.nokey'::regclass"))
        .isEqualTo("0");
    // installing again is harmless
    assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", USERS)).isZero();
    assertThat(Main.run("uninstall", "--primary", fx.primaryUri(), "--tables", USERS + "," + BLOBS))
        .isZero();
    assertThat(query(fx.primaryCluster, fx.primaryDb, "SELECT to_regnamespace('replicador')"))
        .isNotNull();
    assertThat(Main.run("uninstall", "--primary", fx.primaryUri())).isZero();
    assertThat(query(fx.primaryCluster, fx.primaryDb, "SELECT to_regnamespace('replicador')"))
        .isNull();
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'replicador%'"))
        .isEqualTo("0");
  }

  @Test
  @RequiresRabbitMq("single active consumer")
  void aSecondListenerWaitsAndTakesOverWhenTheFirstStops() {
    ReplicaListener first = fx.startListener("r1", Set.of());
    ReplicaListener second = fx.startListener("r1", Set.of());
    fx.startPublisher();
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO users VALUES (1, 'a', NULL)");
    awaitEqual(r1, USERS, "id");
    assertThat(first.appliedMessages() + second.appliedMessages()).isPositive();
    ReplicaListener activeOne = first.appliedMessages() > 0 ? first : second;
    ReplicaListener standby = activeOne == first ? second : first;
    assertThat(standby.appliedMessages()).isZero();
    activeOne.close();
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO users VALUES (2, 'b', NULL)");
    awaitEqual(r1, USERS, "id");
    assertThat(standby.appliedMessages()).isPositive();
  }
}
