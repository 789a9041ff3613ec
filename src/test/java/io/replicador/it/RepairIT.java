package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicador.testing.CliRun;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * verify --repair (issue 24): rows changed, deleted and added on a replica behind Replicador's back
 * are brought back to the primary's values through the change stream while writers and the listener
 * keep going, and verify then finds the tables equal. {@link WalRepairIT} runs it with capture from
 * the WAL.
 */
class RepairIT {
  /** The capture source under test. */
  String capture() {
    return "trigger";
  }

  private static final String TABLES =
      "CREATE TABLE public.items (id int PRIMARY KEY, name text, price numeric,"
          + " seen timestamptz);"
          + "CREATE SCHEMA \"Odd\";"
          + "CREATE TABLE \"Odd\".\"t\" (a int, \"B\" text, v text, PRIMARY KEY (a, \"B\"))";

  private ReplicationFixture fx;
  private String replicaDb;

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
                    "public.items,\"Odd\".\"t\"")
                .status())
        .isZero();
    fx.startListener("r1", Set.of());
    fx.startPublisher();
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private CliRun verify(String... more) {
    String[] base = {
      "verify", "--primary", fx.primaryUri(), "--replica", fx.replicaCluster.uri(replicaDb)
    };
    String[] args = new String[base.length + more.length];
    System.arraycopy(base, 0, args, 0, base.length);
    System.arraycopy(more, 0, args, base.length, more.length);
    return CliRun.of(args);
  }

  @Test
  void repairsChangedMissingAndExtraRowsWhileWritesGoOn() throws Exception {
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO items SELECT g, 'item ' || g, g / 7.0, timestamptz '2024-03-01 00:00+01'"
            + " + g * interval '1 s' FROM generate_series(1, 2000) g",
        "INSERT INTO \"Odd\".\"t\" SELECT g / 3, 'k ' || (g % 3), 'v' || g"
            + " FROM generate_series(1, 300) g");
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> verify("--max-rows", "1").status() == 0);

    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong written = new AtomicLong();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    Future<?> writer;
    try (Connection c = fx.primaryCluster.connect(fx.primaryDb)) {
      // updates rows the replica also gets wrong below (12, 20): the repair must not undo them;
      // the rolling range leaves 345 and 1500 alone, whose repair the test looks for, since an
      // update of them in flight would mend them before verify sees them
      writer =
          pool.submit(
              () -> {
                try (Statement st = c.createStatement()) {
                  while (!stop.get()) {
                    long n = written.incrementAndGet();
                    st.execute(
                        "UPDATE items SET price = price + 1, name = 'w"
                            + n
                            + "' WHERE id IN ("
                            + (n % 300 + 1)
                            + ", 12, 20)");
                  }
                }
                return null;
              });
      await().atMost(Duration.ofSeconds(60)).until(() -> written.get() >= 100);
      exec(
          fx.replicaCluster,
          replicaDb,
          "SET session_replication_role = replica",
          "UPDATE items SET price = -1 WHERE id IN (12, 345)",
          "DELETE FROM items WHERE id IN (20, 1500)",
          "INSERT INTO items (id, name) VALUES (40000, 'only here')",
          "UPDATE \"Odd\".\"t\" SET v = 'changed' WHERE a = 10 AND \"B\" = 'k 1'",
          "DELETE FROM \"Odd\".\"t\" WHERE a = 50 AND \"B\" = 'k 0'",
          "INSERT INTO \"Odd\".\"t\" VALUES (7, 'k 9', 'extra')");
      CliRun repaired = verify("--repair", "--max-rows", "1000");
      assertThat(repaired.status()).as(repaired.err()).isEqualTo(1);
      assertThat(repaired.out())
          .contains("repaired \"public\".\"items\" (\"id\")=(345): re-sent the primary's row")
          .contains("repaired \"public\".\"items\" (\"id\")=(1500): re-sent the primary's row")
          .contains("repaired \"public\".\"items\" (\"id\")=(40000): deleted, not on the primary")
          .contains("repaired \"Odd\".\"t\" (\"a\", \"B\")=(10, k 1): re-sent the primary's row")
          .contains("repaired \"Odd\".\"t\" (\"a\", \"B\")=(50, k 0): re-sent the primary's row")
          .contains("repaired \"Odd\".\"t\" (\"a\", \"B\")=(7, k 9): deleted, not on the primary")
          .contains("through the change stream");
      long atRepair = written.get();
      await().atMost(Duration.ofSeconds(60)).until(() -> written.get() >= atRepair + 100);
      stop.set(true);
      writer.get(60, TimeUnit.SECONDS);
    } finally {
      stop.set(true);
      pool.shutdown();
    }
    CliRun after = verify("--wait-caught-up", "60");
    assertThat(after.status()).as(after.out() + after.err()).isZero();
    assertThat(after.out()).contains("All 2 table(s) equal.");
  }
}
