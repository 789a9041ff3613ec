package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.replicador.broker.QueueType;
import io.replicador.cli.Main;
import io.replicador.testing.PgCluster;
import io.replicador.testing.ReplicadorProcess;
import io.replicador.testing.TestEnvironment;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * {@code --metrics} of a running publisher and listener, scraped over HTTP: the counts follow the
 * changes written, and readiness follows the replica database going away and coming back (issue
 * 23).
 */
class MetricsIT {
  private static final Pattern SERVING =
      Pattern.compile("Serving /metrics, /health/live and /health/ready on http://(\\S+?)[\"\\s]");
  private static final Duration WAIT = Duration.ofSeconds(60);

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final List<ReplicadorProcess> processes = new ArrayList<>();
  private ReplicationFixture fx;
  private PgCluster ownReplicaCluster;

  @AfterEach
  void tearDown() throws Exception {
    for (ReplicadorProcess p : processes) {
      p.close();
    }
    if (fx != null) {
      fx.close();
    }
    if (ownReplicaCluster != null) {
      ownReplicaCluster.close();
    }
  }

  private void setUp(TestInfo info, PgCluster replicaCluster) {
    String test = info.getTestMethod().orElseThrow().getName();
    fx =
        replicaCluster == null
            ? new ReplicationFixture(test)
            : new ReplicationFixture(test, replicaCluster);
    String ddl = "CREATE TABLE t (id int PRIMARY KEY, v text)";
    exec(fx.primaryCluster, fx.primaryDb, ddl);
    exec(fx.replicaCluster, fx.replicaDb("r1"), ddl);
    assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", "public.t")).isZero();
    TestEnvironment.declareReplicaQueue(fx.exchange, fx.replicaName("r1"), QueueType.QUORUM);
  }

  private ReplicadorProcess listener(String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "listen",
                "--replica",
                fx.replicaCluster.uri(fx.replicaName("r1")),
                "--name",
                fx.replicaName("r1"),
                "--amqp",
                TestEnvironment.amqpUri(),
                "--exchange",
                fx.exchange,
                "--metrics",
                "127.0.0.1:0"));
    args.addAll(List.of(more));
    return track(ReplicadorProcess.start(args.toArray(String[]::new)));
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
            "--metrics",
            "127.0.0.1:0"));
  }

  private ReplicadorProcess track(ReplicadorProcess p) {
    processes.add(p);
    return p;
  }

  @Test
  void scrapedCountsEqualTheChangesWritten(TestInfo info) throws Exception {
    setUp(info, null);
    ReplicadorProcess listener = listener("--log-format", "json");
    ReplicadorProcess publisher = publisher();
    String listenerAt = address(listener);
    String publisherAt = address(publisher);
    await().atMost(WAIT).until(() -> get(publisherAt, "/health/ready").statusCode() == 200);
    await().atMost(WAIT).until(() -> get(listenerAt, "/health/ready").statusCode() == 200);
    assertThat(
            value(
                get(publisherAt, "/metrics").body(),
                "replicador_publisher_changes_shipped_total",
                ""))
        .isZero();

    // 20 one-row transactions, then one of 30 rows in one statement, one of 10 updates and one of
    // 5 deletes: 23 transactions, 65 changes
    for (int i = 1; i <= 20; i++) {
      exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO t VALUES (" + i + ", 'row " + i + "')");
    }
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "INSERT INTO t SELECT g, 'bulk' FROM generate_series(101, 130) g");
    exec(fx.primaryCluster, fx.primaryDb, "UPDATE t SET v = 'changed' WHERE id <= 10");
    exec(fx.primaryCluster, fx.primaryDb, "DELETE FROM t WHERE id > 125");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              String p = get(publisherAt, "/metrics").body();
              assertThat(value(p, "replicador_publisher_transactions_shipped_total", ""))
                  .isEqualTo(23);
              assertThat(value(p, "replicador_publisher_changes_shipped_total", "")).isEqualTo(65);
              String l = get(listenerAt, "/metrics").body();
              assertThat(value(l, "replicador_listener_transactions_applied_total", ""))
                  .isEqualTo(23);
              assertThat(
                      value(l, "replicador_listener_changes_applied_total", "table=\"public.t\""))
                  .isEqualTo(65);
            });
    String p = get(publisherAt, "/metrics").body();
    assertThat(value(p, "replicador_publisher_published_bytes_total", "")).isPositive();
    assertThat(value(p, "replicador_publisher_batch_changes_sum", "")).isEqualTo(65);
    assertThat(value(p, "replicador_publisher_confirm_seconds_count", "")).isPositive();
    assertThat(value(p, "replicador_publisher_claim_seconds_count", "")).isPositive();
    assertThat(p).contains("jvm_memory_used_bytes", "process_uptime_seconds");
    await()
        .atMost(WAIT)
        .until(
            () ->
                value(
                        get(publisherAt, "/metrics").body(),
                        "replicador_publisher_backlog_changes",
                        "")
                    == 0);
    String l = get(listenerAt, "/metrics").body();
    assertThat(value(l, "replicador_listener_applied_position", "")).isEqualTo(23);
    assertThat(value(l, "replicador_listener_lag_seconds_count", "")).isPositive();
    assertThat(value(l, "replicador_listener_replica_transaction_seconds_count", "")).isPositive();
    assertThat(value(l, "replicador_listener_halted", "table=\"none\"")).isZero();
    assertThat(value(l, "replicador_listener_dead_letters_total", "")).isZero();
    assertThat(get(listenerAt, "/health/live").statusCode()).isEqualTo(200);
    assertThat(query(fx.replicaCluster, fx.replicaName("r1"), "SELECT count(*) FROM t"))
        .isEqualTo("45");

    listener.close(); // SIGTERM
    List<JsonNode> lines = jsonLines(listener.output());
    assertThat(lines)
        .anySatisfy(
            line -> {
              assertThat(line.path("message").asText()).contains("listen starting with replica");
              assertThat(line.path("replica").asText()).isEqualTo(fx.replicaName("r1"));
            });
    assertThat(lines)
        .anySatisfy(line -> assertThat(line.path("message").asText()).contains("stop signal"));
    assertThat(lines)
        .anySatisfy(
            line -> {
              assertThat(line.path("message").asText()).contains("stopped; it applied");
              assertThat(line.path("position").asText()).isEqualTo("23");
            });
  }

  @Test
  void readinessFollowsTheReplicaDatabase(TestInfo info) throws Exception {
    ownReplicaCluster = PgCluster.start("metrics-replica");
    setUp(info, ownReplicaCluster);
    ReplicadorProcess listener = listener();
    publisher();
    String at = address(listener);
    await().atMost(WAIT).until(() -> get(at, "/health/ready").statusCode() == 200);

    ownReplicaCluster.stop();
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              HttpResponse<String> ready = get(at, "/health/ready");
              assertThat(ready.statusCode()).isEqualTo(503);
              JsonNode body = new ObjectMapper().readTree(ready.body());
              assertThat(body.path("status").asText()).isEqualTo("not ready");
              assertThat(body.path("reasons").path("replica database").asText())
                  .contains("cannot connect to");
            });
    assertThat(get(at, "/health/live").statusCode()).isEqualTo(200);

    ownReplicaCluster.restart();
    await().atMost(WAIT).until(() -> get(at, "/health/ready").statusCode() == 200);
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO t VALUES (1, 'after the restart')");
    await()
        .atMost(WAIT)
        .until(
            () ->
                query(fx.replicaCluster, fx.replicaName("r1"), "SELECT count(*) FROM t")
                    .equals("1"));
  }

  @Test
  void aHaltedListenerIsNotReadyAndNamesTheTable(TestInfo info) throws Exception {
    setUp(info, null);
    exec(fx.replicaCluster, fx.replicaName("r1"), "ALTER TABLE t DROP COLUMN v");
    ReplicadorProcess listener = listener();
    publisher();
    String at = address(listener);
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO t VALUES (1, 'needs column v')");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(
                      value(
                          get(at, "/metrics").body(),
                          "replicador_listener_halted",
                          "table=\"public.t\""))
                  .isEqualTo(1);
              HttpResponse<String> ready = get(at, "/health/ready");
              assertThat(ready.statusCode()).isEqualTo(503);
              assertThat(
                      new ObjectMapper()
                          .readTree(ready.body())
                          .path("reasons")
                          .path("halted")
                          .asText())
                  .contains("has no column \"v\"");
            });

    exec(fx.replicaCluster, fx.replicaName("r1"), "ALTER TABLE t ADD COLUMN v text");
    await().atMost(WAIT).until(() -> get(at, "/health/ready").statusCode() == 200);
    await()
        .atMost(WAIT)
        .until(
            () ->
                value(
                        get(at, "/metrics").body(),
                        "replicador_listener_transactions_applied_total",
                        "")
                    == 1);
    String scrape = get(at, "/metrics").body();
    assertThat(value(scrape, "replicador_listener_halted", "table=\"none\"")).isZero();
    assertThat(scrape.lines().filter(line -> line.startsWith("replicador_listener_halted{")))
        .singleElement()
        .asString()
        .contains("table=\"none\"");
  }

  /** The address the process logged for its metrics (it asked for port 0). */
  private static String address(ReplicadorProcess process) {
    String[] found = new String[1];
    await()
        .atMost(WAIT)
        .until(
            () -> {
              Matcher m = SERVING.matcher(process.output());
              if (m.find()) {
                found[0] = m.group(1);
                return true;
              }
              assertThat(process.isAlive()).as(process.output()).isTrue();
              return false;
            });
    return found[0];
  }

  private HttpResponse<String> get(String address, String path)
      throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://" + address + path))
            .timeout(Duration.ofSeconds(10))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /**
   * The value of the first sample of {@code metric} (name followed by labels or a space) whose
   * labels contain {@code label}; fails when there is none.
   */
  static double value(String scrape, String metric, String label) {
    for (String line : scrape.split("\n")) {
      if (line.startsWith(metric + "{") || line.startsWith(metric + " ")) {
        if (line.contains(label)) {
          return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
    }
    throw new AssertionError("no sample of " + metric + " with " + label + " in\n" + scrape);
  }

  private static List<JsonNode> jsonLines(String output) throws IOException {
    List<JsonNode> lines = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : output.split("\n")) {
      if (line.startsWith("{")) {
        lines.add(json.readTree(line));
      }
    }
    return lines;
  }
}
