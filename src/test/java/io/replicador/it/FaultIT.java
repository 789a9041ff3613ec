package io.replicador.it;

import static io.replicador.testing.Db.checksum;
import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.cli.Main;
import io.replicador.config.PostgresAddress;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import io.replicador.testing.PgCluster;
import io.replicador.testing.RequiresRabbitMq;
import io.replicador.testing.TestEnvironment;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The primary's or the replica's server crashing, and the broker dropping every connection, in the
 * middle of a stream: the publisher and listener reconnect with backoff and the replica converges,
 * with every row applied once.
 */
class FaultIT {
  /** The capture source under test; {@link WalFaultIT} runs the primary's faults with the slot. */
  String capture() {
    return "trigger";
  }

  private static final int ROWS = 3_000;
  private final List<AutoCloseable> closeAfter = new ArrayList<>();
  private final CountDownLatch faulted = new CountDownLatch(1);

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : closeAfter) {
      c.close();
    }
  }

  @Test
  void primaryCrashAndRestartLosesNothing() throws Exception {
    // A crash may lose commits that were acknowledged under the harness's synchronous_commit=off
    // (their WAL was still in the server's memory): the writer would not write them again, the
    // replica may already have them, and the test would blame replication for the server's loss.
    PgCluster primary = PgCluster.start("fault-primary", Map.of("synchronous_commit", "on"));
    closeAfter.add(primary);
    Stream s = new Stream(primary, "primary_crash");
    s.start();
    CompletableFuture<Void> writes = s.write();
    s.awaitReplicaRows(500);
    primary.kill();
    primary.restart();
    faulted.countDown();
    writes.get(3, TimeUnit.MINUTES);
    s.assertConverged();
  }

  @Test
  void replicaCrashAndRestartLosesNothing() throws Exception {
    // The listener's commits do not wait for the replica's disk (and this cluster's own commits
    // default to not waiting either): a crash loses the last ones, whose messages must therefore
    // not have been acknowledged yet and come again.
    PgCluster replica = PgCluster.start("fault-replica");
    closeAfter.add(replica);
    Stream s = new Stream(TestEnvironment.primaryCluster(), replica, "replica_crash");
    s.start();
    CompletableFuture<Void> writes = s.write();
    s.awaitReplicaRows(500);
    replica.kill();
    replica.restart();
    faulted.countDown();
    writes.get(3, TimeUnit.MINUTES);
    s.assertConverged();
  }

  @Test
  @RequiresRabbitMq("rabbitmqctl closes the broker's connections")
  void brokerDroppingEveryConnectionLosesNothing() throws Exception {
    Assumptions.assumeTrue(
        rabbitmqctl("list_connections", "name").isPresent(),
        "needs rabbitmqctl for the local RabbitMQ to close connections");
    Stream s = new Stream(TestEnvironment.primaryCluster(), "broker_drop");
    s.start();
    CompletableFuture<Void> writes = s.write();
    s.awaitReplicaRows(500);
    String connections = rabbitmqctl("list_connections", "pid", "client_properties").orElseThrow();
    int closed = 0;
    for (String line : connections.lines().toList()) {
      if (line.contains(s.name)) {
        String pid = line.split("\t")[0];
        rabbitmqctl("close_connection", pid, "test closes it");
        closed++;
      }
    }
    assertThat(closed).as("connections of this test found").isGreaterThanOrEqualTo(2);
    faulted.countDown();
    writes.get(3, TimeUnit.MINUTES);
    s.assertConverged();
  }

  private static java.util.Optional<String> rabbitmqctl(String... args) {
    try {
      List<String> cmd = new ArrayList<>(List.of("rabbitmqctl", "-q"));
      cmd.addAll(List.of(args));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0
          ? java.util.Optional.of(out)
          : java.util.Optional.empty();
    } catch (IOException e) {
      return java.util.Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return java.util.Optional.empty();
    }
  }

  /** A primary database, a replica, a publisher and a listener, named after the test. */
  private final class Stream {
    final PgCluster primary;
    final PgCluster replicas;
    final String name;
    final String exchange;

    Stream(PgCluster primary, String test) {
      this(primary, TestEnvironment.replicaCluster(), test);
    }

    Stream(PgCluster primary, PgCluster replicas, String test) {
      this.primary = primary;
      this.replicas = replicas;
      this.name = TestEnvironment.uniqueName(test);
      this.exchange = "replicador-test." + name;
      primary.createDatabase(name);
      replicas.createDatabase(name);
      String ddl = "CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL)";
      exec(primary, name, ddl);
      exec(
          replicas,
          name,
          ddl,
          "CREATE TABLE apply_log (id bigint, op text)",
          "CREATE FUNCTION log_apply() RETURNS trigger LANGUAGE plpgsql AS"
              + " $$ BEGIN INSERT INTO apply_log VALUES (NEW.id, TG_OP); RETURN NULL; END $$",
          "CREATE TRIGGER log_apply AFTER INSERT OR UPDATE ON events"
              + " FOR EACH ROW EXECUTE FUNCTION log_apply()",
          "ALTER TABLE events ENABLE ALWAYS TRIGGER log_apply");
      assertThat(
              Main.run(
                  "install",
                  "--capture",
                  capture(),
                  "--primary",
                  primary.uri(name),
                  "--tables",
                  "events"))
          .isZero();
      closeAfter.add(() -> TestEnvironment.deleteBrokerObjects(exchange, name));
    }

    void start() {
      BrokerAddress broker = BrokerAddress.parse(TestEnvironment.amqpUri());
      ReplicaListener listener =
          new ReplicaListener(
              new ListenerSettings(
                  PostgresAddress.parse("replica", replicas.uri(name)),
                  broker,
                  exchange,
                  name,
                  QueueType.QUORUM,
                  Set.of(),
                  ListenerSettings.DEFAULT_PREFETCH));
      // declared before anything ships, so no change can miss the replica's queue
      TestEnvironment.declareReplicaQueue(exchange, name, QueueType.QUORUM);
      ChangePublisher publisher =
          new ChangePublisher(
              PublisherSettings.defaults(
                  PostgresAddress.parse("primary", primary.uri(name)), broker, exchange));
      for (Runnable r : List.of(listener, publisher)) {
        Thread t = new Thread(r, "test-" + r.getClass().getSimpleName());
        t.setDaemon(true);
        t.start();
      }
      // closed in reverse: publisher first
      closeAfter.add(0, listener);
      closeAfter.add(0, publisher);
    }

    /**
     * Writes ROWS single-row transactions, retrying a row after a connection failure (its insert is
     * idempotent, so a commit whose answer was lost is harmless). Rows past the half wait for the
     * fault.
     */
    CompletableFuture<Void> write() {
      return CompletableFuture.runAsync(
          () -> {
            int i = 1;
            while (i <= ROWS) {
              try (Connection c = primary.connect(name);
                  PreparedStatement ps =
                      c.prepareStatement(
                          "INSERT INTO events VALUES (?, 'event ' || ?) ON CONFLICT DO NOTHING")) {
                for (; i <= ROWS; i++) {
                  if (i == ROWS / 2 + 1) {
                    faulted.await();
                  }
                  ps.setLong(1, i);
                  ps.setLong(2, i);
                  ps.executeUpdate();
                }
              } catch (SQLException e) {
                awaitPrimaryUp();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
              }
            }
          });
    }

    private void awaitPrimaryUp() {
      await()
          .atMost(Duration.ofMinutes(2))
          .ignoreExceptions()
          .until(() -> "1".equals(query(primary, name, "SELECT 1")));
    }

    void awaitReplicaRows(long rows) {
      await()
          .atMost(Duration.ofMinutes(2))
          .until(
              () -> Long.parseLong(query(replicas, name, "SELECT count(*) FROM events")) >= rows);
    }

    void assertConverged() {
      await()
          .atMost(Duration.ofMinutes(3))
          .pollInterval(Duration.ofMillis(250))
          .ignoreExceptions()
          .untilAsserted(
              () ->
                  assertThat(checksum(replicas, name, "events", "id"))
                      .isEqualTo(checksum(primary, name, "events", "id")));
      assertThat(query(primary, name, "SELECT count(*) FROM events"))
          .isEqualTo(String.valueOf(ROWS));
      assertThat(query(replicas, name, "SELECT count(*) FROM apply_log WHERE op <> 'INSERT'"))
          .as("no row applied twice")
          .isEqualTo("0");
    }
  }
}
