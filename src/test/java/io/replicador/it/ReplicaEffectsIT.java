package io.replicador.it;

import static io.replicador.it.ReplicationFixture.rowsText;
import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicador.apply.ListenerSettings;
import io.replicador.broker.QueueType;
import io.replicador.cli.Main;
import io.replicador.testing.TestEnvironment;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * A change has on a replica the effect it had on the primary, whatever foreign keys and triggers
 * the replica has, also when the listener is not a superuser (so the replica's foreign-key actions
 * and triggers fire for what it applies). Regression tests of issue 17: a key-changing UPDATE was
 * applied as DELETE plus INSERT and cascaded on the replica.
 */
class ReplicaEffectsIT {
  private ReplicationFixture fx;
  private String replicaDb;
  private String role;

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
    // roles belong to the cluster: named after this run's database
    role = "lst_" + fx.name.substring(fx.name.lastIndexOf('_') + 1);
    exec(
        fx.replicaCluster,
        replicaDb,
        "CREATE ROLE " + role + " LOGIN",
        "GRANT CREATE ON DATABASE " + replicaDb + " TO " + role,
        "GRANT USAGE, CREATE ON SCHEMA public TO " + role);
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  /** Runs the statements on the primary, and on the replica as the listener's role. */
  private void both(String... sql) {
    exec(fx.primaryCluster, fx.primaryDb, sql);
    String[] asRole = new String[sql.length + 1];
    asRole[0] = "SET ROLE " + role;
    System.arraycopy(sql, 0, asRole, 1, sql.length);
    exec(fx.replicaCluster, replicaDb, asRole);
  }

  /**
   * Tables marker and users on both sides, and on the replica a trigger on {@code event} that
   * records into {@code audit}, named without its schema as triggers often do.
   */
  private void usersAuditedOnTheReplica(String event, String row) {
    both(
        "CREATE TABLE public.marker (id int PRIMARY KEY)",
        "CREATE TABLE public.users (id int PRIMARY KEY, name text)");
    exec(
        fx.replicaCluster,
        replicaDb,
        "SET ROLE " + role,
        "CREATE TABLE public.audit (id int, what text)",
        "CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            + " INSERT INTO audit VALUES ("
            + row
            + ".id, TG_OP); RETURN "
            + row
            + "; END $$",
        "CREATE TRIGGER audit AFTER "
            + event
            + " ON public.users"
            + " FOR EACH ROW EXECUTE FUNCTION public.audit()");
  }

  private void primary(String... sql) {
    exec(fx.primaryCluster, fx.primaryDb, sql);
  }

  private String listenerUri() {
    return "postgresql://" + role + "@127.0.0.1:" + fx.replicaCluster.port() + "/" + replicaDb;
  }

  private void install(String... tables) {
    assertThat(
            Main.run("install", "--primary", fx.primaryUri(), "--tables", String.join(",", tables)))
        .isZero();
  }

  private void snapshot() {
    assertThat(
            Main.run(
                "snapshot",
                "--primary",
                fx.primaryUri(),
                "--replica",
                listenerUri(),
                "--name",
                fx.replicaName("r1"),
                "--exchange",
                fx.exchange,
                "--amqp",
                TestEnvironment.amqpUri()))
        .isZero();
  }

  private void replicate(String... tables) {
    install(tables);
    fx.startListener("r1", Set.of(), ListenerSettings.DEFAULT_PREFETCH, listenerUri());
    fx.startPublisher();
  }

  /** Waits until a marker row written last on the primary has arrived, then compares. */
  private void assertSameRowsOnceCaughtUp(String... tables) {
    primary("INSERT INTO public.marker VALUES (1)");
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () ->
                "1"
                    .equals(
                        query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM public.marker")));
    for (String table : tables) {
      assertThat(rowsText(fx.replicaCluster, replicaDb, table, "1"))
          .as(table)
          .isEqualTo(rowsText(fx.primaryCluster, fx.primaryDb, table, "1"));
    }
  }

  @Test
  void aKeyChangeKeepsTheChildRowsOfEveryOnDeleteAction() {
    both(
        "CREATE TABLE public.marker (id int PRIMARY KEY)",
        "CREATE TABLE public.parent (id int PRIMARY KEY, code text UNIQUE NOT NULL)",
        "CREATE TABLE public.c_cascade (id int PRIMARY KEY,"
            + " code text REFERENCES public.parent (code) ON DELETE CASCADE, v text)",
        "CREATE TABLE public.c_null (id int PRIMARY KEY,"
            + " code text REFERENCES public.parent (code) ON DELETE SET NULL, v text)",
        "CREATE TABLE public.c_default (id int PRIMARY KEY,"
            + " code text DEFAULT 'Z' REFERENCES public.parent (code) ON DELETE SET DEFAULT)");
    replicate(
        "public.marker", "public.parent", "public.c_cascade", "public.c_null", "public.c_default");
    primary(
        "INSERT INTO public.parent VALUES (1, 'A'), (2, 'Z')",
        "INSERT INTO public.c_cascade VALUES (100, 'A', 'x'), (101, 'A', 'y')",
        "INSERT INTO public.c_null VALUES (200, 'A', 'x')",
        "INSERT INTO public.c_default VALUES (300, 'A')",
        "UPDATE public.parent SET id = 9 WHERE id = 1",
        // several key changes in one statement, batched on the replica
        "UPDATE public.parent SET id = id + 100");
    assertSameRowsOnceCaughtUp(
        "public.parent", "public.c_cascade", "public.c_null", "public.c_default");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM public.c_cascade"))
        .isEqualTo("2");
    // a real delete still has its effect: the primary cascaded, and so does the replica
    primary(
        "DELETE FROM public.c_null",
        "DELETE FROM public.c_default",
        "DELETE FROM public.parent WHERE code = 'A'",
        "DELETE FROM public.marker");
    assertSameRowsOnceCaughtUp("public.parent", "public.c_cascade");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM public.c_cascade"))
        .isEqualTo("0");
  }

  @Test
  void aKeyChangeCascadesToChildrenOnUpdateCascadeAsOnThePrimary() {
    both(
        "CREATE TABLE public.marker (id int PRIMARY KEY)",
        "CREATE TABLE public.parent (id int PRIMARY KEY, v text)",
        "CREATE TABLE public.child (id int PRIMARY KEY, parent_id int REFERENCES public.parent"
            + " ON UPDATE CASCADE ON DELETE CASCADE)");
    replicate("public.marker", "public.parent", "public.child");
    primary(
        "INSERT INTO public.parent VALUES (1, 'one'), (2, 'two')",
        "INSERT INTO public.child VALUES (10, 1), (11, 1), (20, 2)",
        "UPDATE public.parent SET id = 9, v = 'nine' WHERE id = 1");
    assertSameRowsOnceCaughtUp("public.parent", "public.child");
    assertThat(
            query(
                fx.replicaCluster,
                replicaDb,
                "SELECT string_agg(parent_id::text, ',' ORDER BY id) FROM public.child"))
        .isEqualTo("9,9,2");
  }

  @Test
  void aDeleteTriggerOnTheReplicaFiresForDeletesNotForKeyChanges() {
    usersAuditedOnTheReplica("DELETE", "OLD");
    replicate("public.marker", "public.users");
    primary(
        "INSERT INTO public.users VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "UPDATE public.users SET id = 10 WHERE id = 1",
        "UPDATE public.users SET id = id + 100 WHERE id >= 2",
        "DELETE FROM public.users WHERE id = 103");
    assertSameRowsOnceCaughtUp("public.users");
    assertThat(
            query(
                fx.replicaCluster,
                replicaDb,
                "SELECT string_agg(id || ' ' || what, ',') FROM public.audit"))
        .isEqualTo("103 DELETE");
  }

  @Test
  void aKeyChangeReplayedAfterASnapshotKeepsTheChildren() throws Exception {
    both(
        "CREATE TABLE public.marker (id int PRIMARY KEY)",
        "CREATE TABLE public.parent (id int PRIMARY KEY, code text UNIQUE NOT NULL)",
        "CREATE TABLE public.child (id int PRIMARY KEY,"
            + " code text REFERENCES public.parent (code) ON DELETE CASCADE, v text)");
    install("public.marker", "public.parent", "public.child");
    primary(
        "INSERT INTO public.parent VALUES (1, 'A')",
        "INSERT INTO public.child VALUES (100, 'A', 'x'), (101, 'A', 'y')");
    // the queue exists (an earlier snapshot made it) and holds the key change when the
    // snapshot copies: the copy already has its effect
    TestEnvironment.declareReplicaQueue(fx.exchange, fx.replicaName("r1"), QueueType.QUORUM);
    fx.startPublisher();
    primary("UPDATE public.parent SET id = 9 WHERE id = 1");
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
    snapshot();
    fx.startListener("r1", Set.of(), ListenerSettings.DEFAULT_PREFETCH, listenerUri());
    assertSameRowsOnceCaughtUp("public.parent", "public.child");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM public.child"))
        .isEqualTo("2");
  }

  @Test
  void aSnapshotFiresTheReplicasTriggersUnderTheReplicasSearchPathAsTheListenerDoes() {
    usersAuditedOnTheReplica("INSERT", "NEW");
    install("public.marker", "public.users");
    primary("INSERT INTO public.users VALUES (1, 'a'), (2, 'b')");
    snapshot();
    fx.startListener("r1", Set.of(), ListenerSettings.DEFAULT_PREFETCH, listenerUri());
    fx.startPublisher();
    primary("INSERT INTO public.users VALUES (3, 'c')");
    assertSameRowsOnceCaughtUp("public.users");
    assertThat(
            query(
                fx.replicaCluster,
                replicaDb,
                "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.audit"))
        .isEqualTo("1,2,3");
  }

  @Test
  void aReplicaWhereReplacingARowWouldCascadeIsRefusedUnlessAllowed() {
    both(
        "CREATE TABLE public.parent (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)",
        "CREATE TABLE public.child (id int PRIMARY KEY,"
            + " parent_id int REFERENCES public.parent ON DELETE CASCADE)");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream saved = System.err;
    int status;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      status =
          Main.run(
              "listen",
              "--replica",
              listenerUri(),
              "--name",
              fx.replicaName("r1"),
              "--exchange",
              fx.exchange,
              "--amqp",
              TestEnvironment.amqpUri());
    } finally {
      System.setErr(saved);
    }
    assertThat(status).isEqualTo(Main.EXIT_ERROR);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("table public.parent has a GENERATED ALWAYS identity column")
        .contains("foreign key child_parent_id_fkey of public.child (ON DELETE CASCADE)")
        .contains("GRANT SET ON PARAMETER session_replication_role TO \"" + role + "\"")
        .contains("--allow-replica-triggers");
    // allowed, it starts (and applies)
    exec(fx.primaryCluster, fx.primaryDb, "CREATE TABLE public.marker (id int PRIMARY KEY)");
    exec(
        fx.replicaCluster,
        replicaDb,
        "CREATE TABLE public.marker (id int PRIMARY KEY)",
        "GRANT ALL ON public.marker TO " + role);
    install("public.marker");
    fx.startPublisher();
    fx.startListener("r1", Set.of(), ListenerSettings.DEFAULT_PREFETCH, listenerUri(), true);
    primary("INSERT INTO public.marker VALUES (1)");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                "1"
                    .equals(
                        query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM public.marker")));
  }
}
