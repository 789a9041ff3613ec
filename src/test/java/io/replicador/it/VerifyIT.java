package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.cli.Main;
import io.replicador.testing.TestEnvironment;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/** verify against real databases: equal tables, changed, missing and extra rows, errors. */
class VerifyIT {
  /** The capture source under test; the Wal subclass runs these tests with the slot. */
  String capture() {
    return "trigger";
  }

  private static final String ITEMS = "public.items";
  private static final String ODD = "\"Odd\".\"t\"";

  /** Enough rows for several ranges, each bisected before rows are compared. */
  private static final String PRIMARY_DDL =
      "CREATE TABLE public.items (id int PRIMARY KEY, name text, price numeric, seen timestamptz);"
          + "CREATE SCHEMA \"Odd\";"
          + "CREATE TABLE "
          + ODD
          + " (a int, \"B\" text, t text, PRIMARY KEY (a, \"B\"));";

  /** The replica's columns in another order, as a hand-made replica may have them. */
  private static final String REPLICA_DDL =
      "CREATE TABLE public.items (name text, id int PRIMARY KEY, seen timestamptz, price numeric);"
          + "CREATE SCHEMA \"Odd\";"
          + "CREATE TABLE "
          + ODD
          + " (t text, \"B\" text, a int, PRIMARY KEY (a, \"B\"));";

  private static final String ITEMS_DATA =
      "INSERT INTO public.items (id, name, price, seen) SELECT g, 'item ' || g, g / 7.0,"
          + " timestamptz '2024-03-01 00:00+01' + g * interval '1 s' FROM generate_series(1, 30000) g";
  private static final String ODD_DATA =
      "INSERT INTO "
          + ODD
          + " (a, \"B\", t) SELECT g / 3, 'k ' || (g % 3), 'v' || g"
          + " FROM generate_series(1, 6000) g";

  private ReplicationFixture fx;
  private String replicaDb;
  private String out;
  private String err;

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
    exec(fx.primaryCluster, fx.primaryDb, PRIMARY_DDL, ITEMS_DATA, ODD_DATA);
    exec(fx.replicaCluster, replicaDb, REPLICA_DDL, ITEMS_DATA, ODD_DATA);
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private int verify(String... more) {
    String[] base = {
      "verify", "--primary", fx.primaryUri(), "--replica", fx.replicaCluster.uri(replicaDb)
    };
    String[] args = new String[base.length + more.length];
    System.arraycopy(base, 0, args, 0, base.length);
    System.arraycopy(more, 0, args, base.length, more.length);
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
    try {
      return Main.run(args);
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
      out = o.toString(StandardCharsets.UTF_8);
      err = e.toString(StandardCharsets.UTF_8);
    }
  }

  @Test
  void equalTablesExitZero() {
    assertThat(verify("--tables", ITEMS + "," + ODD)).as(out + err).isZero();
    assertThat(out)
        .contains("\"public\".\"items\": equal (30000 rows)")
        .contains("\"Odd\".\"t\": equal (6000 rows)");
  }

  @Test
  void namesChangedMissingAndExtraRowsOnSingleAndCompositeKeys() {
    exec(
        fx.replicaCluster,
        replicaDb,
        "UPDATE public.items SET price = price + 0.001 WHERE id = 12345",
        "DELETE FROM public.items WHERE id = 20000",
        "INSERT INTO public.items (id, name) VALUES (40000, 'only here')",
        "UPDATE public.items SET seen = NULL WHERE id = 3",
        "UPDATE " + ODD + " SET t = 'changed' WHERE a = 100 AND \"B\" = 'k 1'",
        "DELETE FROM " + ODD + " WHERE a = 1500 AND \"B\" = 'k 0'",
        "INSERT INTO " + ODD + " VALUES ('x', 'k 9', 7)");
    assertThat(verify("--tables", ITEMS + "," + ODD)).as(out + err).isEqualTo(1);
    assertThat(out)
        .contains(
            "\"public\".\"items\": DIFFERENT (30000 rows on the primary, 30000 on the replica)")
        .contains("changed  (\"id\")=(3)")
        .contains("changed  (\"id\")=(12345)")
        .contains("missing  (\"id\")=(20000)")
        .contains("extra    (\"id\")=(40000)")
        .contains("changed  (\"a\", \"B\")=(100, k 1)")
        .contains("missing  (\"a\", \"B\")=(1500, k 0)")
        .contains("extra    (\"a\", \"B\")=(7, k 9)")
        .contains("2 of 2 table(s) differ.");
    assertThat(out.lines().filter(l -> l.startsWith("  ")).count()).isEqualTo(7);

    assertThat(verify("--tables", ITEMS, "--max-rows", "2")).isEqualTo(1);
    assertThat(
            out.lines()
                .filter(
                    l ->
                        l.startsWith("  changed")
                            || l.startsWith("  missing")
                            || l.startsWith("  extra"))
                .count())
        .isEqualTo(2);
    assertThat(out).contains("more differences; raise --max-rows");
  }

  @Test
  void aTableMissingOnTheReplicaIsADifference() {
    exec(fx.replicaCluster, replicaDb, "DROP TABLE " + ODD);
    assertThat(verify("--tables", ODD)).isEqualTo(1);
    assertThat(out).contains("\"Odd\".\"t\": missing on the replica (6000 rows on the primary)");
  }

  @Test
  void errorsAreOneLineWithExitTwo() {
    exec(fx.replicaCluster, replicaDb, "ALTER TABLE public.items DROP COLUMN price");
    assertThat(verify("--tables", ITEMS)).isEqualTo(2);
    assertThat(err.strip())
        .isEqualTo(
            "replicador: Replica table \"public\".\"items\" has no column \"price\"; add it"
                + " (or run snapshot) so the tables can be compared");
    assertThat(verify("--tables", "public.nope")).isEqualTo(2);
    assertThat(err.strip().lines().count()).isEqualTo(1);
  }

  @Test
  void waitsForAFedReplicaToCatchUpBeforeComparing() {
    assertThat(
            Main.run(
                "install", "--capture", capture(), "--primary", fx.primaryUri(), "--tables", ITEMS))
        .isZero();
    fx.startListener("r1", Set.of());
    fx.startPublisher();
    // Without waiting, the writes below may not have arrived; with it, verify sees them.
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "UPDATE public.items SET name = 'renamed' WHERE id % 10 = 0",
        "DELETE FROM public.items WHERE id > 29000",
        "INSERT INTO public.items (id, name) SELECT g, 'new' FROM generate_series(50001, 50500) g");
    assertThat(verify("--tables", ITEMS, "--wait-caught-up", "120")).as(out + err).isZero();
    assertThat(out).contains("\"public\".\"items\": equal (29500 rows)");
    TestEnvironment.deleteBrokerObjects(fx.exchange, fx.replicaName("r1"));
  }

  @Test
  void waitingForAReplicaThatDoesNotCatchUpNamesTheListenerBehind() throws Exception {
    assertThat(
            Main.run(
                "install", "--capture", capture(), "--primary", fx.primaryUri(), "--tables", ITEMS))
        .isZero();
    fx.startListener("r1", Set.of());
    fx.startPublisher();
    exec(fx.primaryCluster, fx.primaryDb, "UPDATE public.items SET name = 'one' WHERE id = 1");
    assertThat(verify("--tables", ITEMS, "--wait-caught-up", "60")).as(out + err).isZero();
    fx.stopServices(); // its listener is gone; the publisher too, so nothing ships
    exec(fx.primaryCluster, fx.primaryDb, "UPDATE public.items SET name = 'two' WHERE id = 1");
    fx.startPublisher();
    assertThat(verify("--tables", ITEMS, "--wait-caught-up", "3")).isEqualTo(2);
    assertThat(err)
        .contains("did not catch up within 3 s")
        .contains("listener " + fx.replicaName("r1") + " applied position");
    TestEnvironment.deleteBrokerObjects(fx.exchange, fx.replicaName("r1"));
  }
}
