package io.replicador.it;

import static io.replicador.it.ReplicationFixture.rowsText;
import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.replicador.apply.ReplicaListener;
import io.replicador.testing.CliRun;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.slf4j.LoggerFactory;

/**
 * Schema changes in the stream (issue 24): {@code replicador ddl} runs a statement on the primary
 * and records it, and every replica runs it at that point of the stream, under write load; a
 * statement a replica cannot run halts it until fixed; statements on tables that are not captured
 * are refused before they run. {@link WalDdlIT} runs the same tests with capture from the WAL.
 */
class DdlIT {
  /** The capture source under test. */
  String capture() {
    return "trigger";
  }

  private static final String USERS = "public.users";
  private static final String TABLES =
      "CREATE TABLE public.users (id bigint PRIMARY KEY, name text, bio text);"
          + "CREATE TABLE public.other (id int PRIMARY KEY)";

  private ReplicationFixture fx;
  private String replicaDb;
  private ReplicaListener listener;
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private final Logger applyLogger = (Logger) LoggerFactory.getLogger("io.replicador.apply");

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
    exec(fx.primaryCluster, fx.primaryDb, TABLES);
    exec(fx.replicaCluster, replicaDb, TABLES);
    assertThat(
            CliRun.of(
                    "install",
                    "--capture",
                    capture(),
                    "--primary",
                    fx.primaryUri(),
                    "--tables",
                    USERS)
                .status())
        .isZero();
    logs.start();
    applyLogger.addAppender(logs);
    listener = fx.startListener("r1", Set.of());
    fx.startPublisher();
  }

  @AfterEach
  void tearDown() throws Exception {
    applyLogger.detachAppender(logs);
    fx.close();
  }

  private CliRun ddl(String statement) {
    return CliRun.of("ddl", "--primary", fx.primaryUri(), statement);
  }

  private void primary(String... sql) {
    exec(fx.primaryCluster, fx.primaryDb, sql);
  }

  private void awaitSameRows(String table) {
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions() // the replica may not have the table yet
        .untilAsserted(
            () ->
                assertThat(rowsText(fx.replicaCluster, replicaDb, table, "id"))
                    .isEqualTo(rowsText(fx.primaryCluster, fx.primaryDb, table, "id")));
  }

  /** A table's columns with their types and defaults, in order. */
  private static String columns(
      io.replicador.testing.PgCluster cluster, String database, String table) {
    return query(
        cluster,
        database,
        "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' '"
            + " || coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), ', ' ORDER BY attnum)"
            + " FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid"
            + " AND d.adnum = a.attnum WHERE attrelid = '"
            + table
            + "'::regclass AND attnum > 0 AND NOT attisdropped");
  }

  @Test
  void addsAColumnWithADefaultAndDropsOneUnderWriteLoad() throws Exception {
    primary("INSERT INTO users SELECT g, 'user ' || g, 'bio' FROM generate_series(1, 200) g");
    try (Writers writers = new Writers(2)) {
      await().atMost(Duration.ofSeconds(60)).until(() -> writers.written() >= 200);
      CliRun added = ddl("ALTER TABLE public.users ADD COLUMN note text NOT NULL DEFAULT 'n/a'");
      assertThat(added.status()).as(added.err()).isZero();
      assertThat(added.out()).contains("Ran and recorded ALTER TABLE on \"public\".\"users\"");
      long afterAdd = writers.written();
      await().atMost(Duration.ofSeconds(60)).until(() -> writers.written() >= afterAdd + 200);
      CliRun dropped = ddl("ALTER TABLE users DROP COLUMN bio");
      assertThat(dropped.status()).as(dropped.err()).isZero();
      long afterDrop = writers.written();
      await().atMost(Duration.ofSeconds(60)).until(() -> writers.written() >= afterDrop + 200);
    }
    awaitSameRows(USERS);
    assertThat(columns(fx.replicaCluster, replicaDb, USERS))
        .isEqualTo(columns(fx.primaryCluster, fx.primaryDb, USERS))
        .isEqualTo("id bigint -, name text -, note text 'n/a'::text");
    // and it keeps applying
    primary("INSERT INTO users (id, name, note) VALUES (-1, 'after', 'set')");
    awaitSameRows(USERS);
  }

  @Test
  void renamesATableAndGoesOnCapturingItUnderItsNewName() {
    primary("INSERT INTO users VALUES (1, 'ada', NULL)");
    awaitSameRows(USERS);
    CliRun renamed = ddl("ALTER TABLE users RENAME TO \"People Table\"");
    assertThat(renamed.status()).as(renamed.err()).isZero();
    assertThat(renamed.out()).contains("capturing \"public\".\"People Table\"");
    primary(
        "INSERT INTO \"People Table\" VALUES (2, 'bob', 'x')",
        "UPDATE \"People Table\" SET name = 'ada l.' WHERE id = 1");
    awaitSameRows("public.\"People Table\"");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT to_regclass('public.users')")).isNull();
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT string_agg(table_name, ',') FROM replicador.captured_tables"))
        .isEqualTo("People Table");
  }

  @Test
  void createsATableInACapturedSchemaThatIsThenCapturedAndIndexesAndDropsIt() {
    CliRun created =
        ddl("CREATE TABLE public.orders (id int PRIMARY KEY, total numeric(10, 2) NOT NULL)");
    assertThat(created.status()).as(created.err()).isZero();
    primary("INSERT INTO public.orders VALUES (1, 9.99), (2, 5)");
    awaitSameRows("public.orders");
    assertThat(ddl("CREATE INDEX orders_total ON public.orders (total)").status()).isZero();
    primary("INSERT INTO public.orders VALUES (3, 1)");
    awaitSameRows("public.orders");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT to_regclass('public.orders_total')"))
        .isEqualTo("orders_total");
    assertThat(ddl("DROP TABLE public.orders").status()).isZero();
    primary("INSERT INTO users VALUES (7, 'marker', NULL)");
    awaitSameRows(USERS);
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT to_regclass('public.orders')")).isNull();
  }

  @Test
  void aSchemaChangeAReplicaCannotRunHaltsItUntilTheReplicaIsFixed() {
    // a view on the replica alone depends on the column the primary drops
    exec(fx.replicaCluster, replicaDb, "CREATE VIEW bios AS SELECT id, bio FROM public.users");
    primary("INSERT INTO users VALUES (1, 'ada', 'first')");
    awaitSameRows(USERS);
    long before = listener.positions().values().iterator().next();
    assertThat(ddl("ALTER TABLE users DROP COLUMN bio").status()).isZero();
    primary("INSERT INTO users VALUES (2, 'bob')");
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> errorLines().size() >= 2);
    assertThat(errorLines().get(0))
        .contains(
            "Replica " + fx.replicaName("r1"),
            "cannot apply the schema change on \"public\".\"users\" at position " + (before + 1),
            "SQLSTATE 2BP01",
            "ALTER TABLE users DROP COLUMN bio",
            "retrying")
        .doesNotContain("\n");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM users")).isEqualTo("1");
    assertThat(listener.positions().values()).containsExactly(before);

    exec(fx.replicaCluster, replicaDb, "DROP VIEW bios");
    awaitSameRows(USERS);
    assertThat(columns(fx.replicaCluster, replicaDb, USERS))
        .isEqualTo(columns(fx.primaryCluster, fx.primaryDb, USERS));
  }

  @Test
  void givesUpWithoutChangingAnythingWhileThePublisherIsNotShippingTheTable() throws Exception {
    fx.stopServices();
    primary("INSERT INTO users VALUES (1, 'waits', NULL)");
    CliRun run =
        CliRun.of(
            "ddl", "--primary", fx.primaryUri(), "--wait", "1", "ALTER TABLE users ADD c int");
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err())
        .contains("\"public\".\"users\"", "start the publisher", "nothing was changed");
    // one line of error (the wait before it was logged)
    assertThat(run.err().lines().filter(l -> l.startsWith("replicador:"))).hasSize(1);
    assertThat(columns(fx.primaryCluster, fx.primaryDb, USERS))
        .isEqualTo("id bigint -, name text -, bio text -");
  }

  @Test
  void refusesStatementsOnTablesThatAreNotCapturedBeforeRunningThem() {
    CliRun other = ddl("ALTER TABLE public.other ADD COLUMN v int");
    assertThat(other.status()).isEqualTo(2);
    assertThat(other.err())
        .contains("Table \"public\".\"other\" is not captured")
        .contains("install --tables");
    assertThat(columns(fx.primaryCluster, fx.primaryDb, "public.other")).isEqualTo("id integer -");
    exec(fx.primaryCluster, fx.primaryDb, "CREATE SCHEMA elsewhere");
    CliRun create = ddl("CREATE TABLE elsewhere.t (id int PRIMARY KEY)");
    assertThat(create.status()).isEqualTo(2);
    assertThat(create.err()).contains("schema elsewhere has no captured table");
    assertThat(query(fx.primaryCluster, fx.primaryDb, "SELECT to_regclass('elsewhere.t')"))
        .isNull();
    CliRun view = ddl("CREATE VIEW v AS SELECT 1");
    assertThat(view.status()).isEqualTo(2);
    assertThat(view.err()).contains("CREATE VIEW is not a schema change ddl records");
    CliRun noKey = ddl("CREATE TABLE public.nokey (v int)");
    assertThat(noKey.status()).isEqualTo(2);
    assertThat(noKey.err()).contains("has no primary key");
    assertThat(query(fx.primaryCluster, fx.primaryDb, "SELECT to_regclass('public.nokey')"))
        .isNull();
  }

  @Test
  void withDdlAutoSchemaChangesMadeWithoutDdlAreRecordedToo() {
    CliRun install =
        CliRun.of(
            "install",
            "--capture",
            capture(),
            "--ddl",
            "auto",
            "--primary",
            fx.primaryUri(),
            "--tables",
            USERS);
    assertThat(install.status()).as(install.err()).isZero();
    assertThat(install.out()).contains("recorded for the replicas (event triggers)");
    primary(
        "INSERT INTO users VALUES (1, 'ada', 'x')",
        "ALTER TABLE users ADD COLUMN extra int DEFAULT 7",
        "INSERT INTO users (id, name) VALUES (2, 'bob')",
        "CREATE INDEX users_name ON public.users (name)",
        "CREATE TABLE public.auto_t (id int PRIMARY KEY, v text)",
        "INSERT INTO auto_t VALUES (1, 'one')",
        "CREATE TABLE public.auto_nokey (v text)",
        "ALTER TABLE public.other ADD COLUMN q int",
        "ALTER TABLE users RENAME TO members",
        "INSERT INTO members (id, name) VALUES (3, 'cy')");
    // made with ddl, recorded once (twice would fail on the replica: the column exists)
    assertThat(ddl("ALTER TABLE members ADD COLUMN w int").status()).isZero();
    primary("INSERT INTO members (id, name, w) VALUES (4, 'di', 4)");
    awaitSameRows("public.members");
    awaitSameRows("public.auto_t");
    assertThat(columns(fx.replicaCluster, replicaDb, "public.members"))
        .isEqualTo(columns(fx.primaryCluster, fx.primaryDb, "public.members"));
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT to_regclass('public.users_name')"))
        .isEqualTo("users_name");
    // not captured: neither the table without a key nor the change of another table
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT to_regclass('public.auto_nokey')"))
        .isNull();
    assertThat(columns(fx.replicaCluster, replicaDb, "public.other")).isEqualTo("id integer -");
    primary("DROP TABLE public.auto_t", "INSERT INTO members (id, name) VALUES (5, 'ed')");
    awaitSameRows("public.members");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT to_regclass('public.auto_t')")).isNull();
    assertThat(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT string_agg(table_name, ',' ORDER BY table_name)"
                    + " FROM replicador.captured_tables"))
        .isEqualTo("members");
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

  /**
   * Connections writing {@code users} until closed: each transaction inserts a row naming only the
   * columns every version of the table has, and updates an earlier one.
   */
  private final class Writers implements AutoCloseable {
    private final ExecutorService pool;
    private final AtomicLong written = new AtomicLong(1000);
    private final List<Connection> connections = new ArrayList<>();
    private volatile boolean stop;

    Writers(int count) throws SQLException {
      pool = Executors.newFixedThreadPool(count);
      for (int i = 0; i < count; i++) {
        Connection c = fx.primaryCluster.connect(fx.primaryDb);
        connections.add(c);
        pool.submit(
            () -> {
              try (Statement st = c.createStatement()) {
                while (!stop) {
                  long id = written.incrementAndGet();
                  st.execute(
                      "INSERT INTO public.users (id, name) VALUES ("
                          + id
                          + ", 'load');"
                          + " UPDATE public.users SET name = name || '+' WHERE id = "
                          + (id - 50));
                }
              }
              return null;
            });
      }
    }

    long written() {
      return written.get() - 1000;
    }

    @Override
    public void close() throws Exception {
      stop = true;
      pool.shutdown();
      assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
      for (Connection c : connections) {
        c.close();
      }
    }
  }
}
