package io.replicador.it;

import static io.replicador.testing.Db.checksum;
import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicador.cli.Main;
import io.replicador.testing.ReplicadorProcess;
import io.replicador.testing.TestEnvironment;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * SIGKILL of the publisher or of a listener in the middle of a stream of 10,000 transactions:
 * afterwards the replica equals the primary, with nothing lost and nothing applied twice.
 */
class CrashIT {
  /** The capture source under test; the Wal subclass runs these tests with the slot. */
  String capture() {
    return "trigger";
  }

  private static final int TRANSACTIONS = 10_000;
  private static final String REPLICA_AUDIT =
      "CREATE TABLE apply_log (id bigint, op text);"
          + "CREATE FUNCTION log_apply() RETURNS trigger LANGUAGE plpgsql AS"
          + " $$ BEGIN INSERT INTO apply_log VALUES (NEW.id, TG_OP); RETURN NULL; END $$;"
          + "CREATE TRIGGER log_apply AFTER INSERT OR UPDATE ON events"
          + " FOR EACH ROW EXECUTE FUNCTION log_apply();"
          // fires under session_replication_role = replica too
          + "ALTER TABLE events ENABLE ALWAYS TRIGGER log_apply;";

  private ReplicationFixture fx;
  private String replicaDb;
  private final List<ReplicadorProcess> processes = new ArrayList<>();
  private final CountDownLatch crashed = new CountDownLatch(1);

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    String ddl = "CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL)";
    exec(fx.primaryCluster, fx.primaryDb, ddl);
    replicaDb = fx.replicaDb("r1");
    exec(fx.replicaCluster, replicaDb, ddl, REPLICA_AUDIT);
    assertThat(
            Main.run(
                "install",
                "--capture",
                capture(),
                "--primary",
                fx.primaryUri(),
                "--tables",
                "events"))
        .isZero();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (ReplicadorProcess p : processes) {
      p.close();
    }
    fx.close();
  }

  private ReplicadorProcess publisher() {
    return track(
        ReplicadorProcess.start(
            "publish",
            "--primary",
            fx.primaryUri(),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange,
            "--batch-rows",
            "500"));
  }

  private ReplicadorProcess listener() {
    return track(
        ReplicadorProcess.start(
            "listen",
            "--replica",
            fx.replicaCluster.uri(replicaDb),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--exchange",
            fx.exchange,
            "--name",
            fx.replicaName("r1"),
            "--prefetch",
            "50"));
  }

  private ReplicadorProcess track(ReplicadorProcess p) {
    processes.add(p);
    return p;
  }

  /**
   * Writes TRANSACTIONS single-row transactions from another thread; the second half waits until
   * the test has done its damage, so part of the stream is always written after the crash.
   */
  private CompletableFuture<Void> writeStream() {
    return CompletableFuture.runAsync(
        () -> {
          try (Connection c = fx.primaryCluster.connect(fx.primaryDb);
              PreparedStatement ps =
                  c.prepareStatement("INSERT INTO events VALUES (?, 'event ' || ?)")) {
            for (int i = 1; i <= TRANSACTIONS; i++) {
              if (i == TRANSACTIONS / 2 + 1) {
                crashed.await();
              }
              ps.setLong(1, i);
              ps.setLong(2, i);
              ps.executeUpdate();
            }
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
  }

  private long replicaRows() {
    return Long.parseLong(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM events"));
  }

  private void awaitReplicaAt(long rows, ReplicadorProcess... show) {
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(50))
        .failFast(
            "a replicador process died: " + outputs(show),
            () -> {
              for (ReplicadorProcess p : show) {
                if (!p.isAlive()) {
                  return true;
                }
              }
              return false;
            })
        .until(() -> replicaRows() >= rows);
  }

  private static String outputs(ReplicadorProcess... ps) {
    StringBuilder sb = new StringBuilder();
    for (ReplicadorProcess p : ps) {
      sb.append(p.output()).append('\n');
    }
    return sb.toString();
  }

  private void assertExactlyOnce() {
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () ->
                assertThat(checksum(fx.replicaCluster, replicaDb, "events", "id"))
                    .isEqualTo(checksum(fx.primaryCluster, fx.primaryDb, "events", "id")));
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM apply_log"))
        .as("each row inserted once, never re-applied")
        .isEqualTo(String.valueOf(TRANSACTIONS));
    assertThat(
            query(
                fx.replicaCluster,
                replicaDb,
                "SELECT count(*) FROM apply_log WHERE op <> 'INSERT'"))
        .isEqualTo("0");
    assertThat(query(fx.replicaCluster, replicaDb, "SELECT max(position) FROM replicador.applied"))
        .isEqualTo(
            query(
                fx.primaryCluster,
                fx.primaryDb,
                "SELECT next_position - 1 FROM replicador.publisher"));
  }

  @Test
  void killingThePublisherMidStreamLosesAndDoublesNothing() throws Exception {
    ReplicadorProcess listener = listener();
    await().atMost(Duration.ofSeconds(60)).until(() -> listener.output().contains("consuming"));
    ReplicadorProcess first = publisher();
    CompletableFuture<Void> writes = writeStream();
    awaitReplicaAt(2_000, first, listener);
    first.kill();
    crashed.countDown();
    ReplicadorProcess second = publisher();
    writes.get();
    awaitReplicaAt(TRANSACTIONS, second, listener);
    assertExactlyOnce();
  }

  @Test
  void killingTheListenerMidStreamLosesAndDoublesNothing() throws Exception {
    ReplicadorProcess first = listener();
    await().atMost(Duration.ofSeconds(60)).until(() -> first.output().contains("consuming"));
    ReplicadorProcess publisher = publisher();
    CompletableFuture<Void> writes = writeStream();
    awaitReplicaAt(2_000, first, publisher);
    first.kill();
    crashed.countDown();
    ReplicadorProcess second = listener();
    writes.get();
    awaitReplicaAt(TRANSACTIONS, second, publisher);
    assertExactlyOnce();
  }

  @Test
  void aStandbyPublisherTakesOverWhenTheActiveOneDies() throws Exception {
    ReplicadorProcess listener = listener();
    await().atMost(Duration.ofSeconds(60)).until(() -> listener.output().contains("consuming"));
    ReplicadorProcess active = publisher();
    await().atMost(Duration.ofSeconds(60)).until(() -> active.output().contains("active on"));
    ReplicadorProcess standby = publisher();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> standby.output().contains("waiting as hot standby"));
    CompletableFuture<Void> writes = writeStream();
    awaitReplicaAt(1_000, active, listener);
    active.kill();
    crashed.countDown();
    writes.get();
    awaitReplicaAt(TRANSACTIONS, standby, listener);
    assertThat(standby.output()).contains("active on");
    assertExactlyOnce();
  }
}
