package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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

/** status before a publisher runs, with changes queued, and after the listener caught up. */
class StatusIT {
  private ReplicationFixture fx;
  private String replicaDb;

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
    exec(fx.primaryCluster, fx.primaryDb, "CREATE TABLE public.t (id int PRIMARY KEY, v text)");
    assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", "public.t")).isZero();
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private String run(String... args) {
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    PrintStream old = System.out;
    System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
    try {
      assertThat(Main.run(args)).isZero();
    } finally {
      System.setOut(old);
    }
    return o.toString(StandardCharsets.UTF_8);
  }

  private JsonNode status() throws Exception {
    return new ObjectMapper()
        .readTree(
            run(
                "status",
                "--primary",
                fx.primaryUri(),
                "--amqp",
                TestEnvironment.amqpUri(),
                "--replica",
                fx.replicaName("r1") + "=" + fx.replicaCluster.uri(replicaDb),
                "--json"));
  }

  @Test
  void showsBacklogQueueAndLagBeforeAndAfterTheListenerCatchesUp() throws Exception {
    run(
        "snapshot",
        "--primary",
        fx.primaryUri(),
        "--replica",
        fx.replicaCluster.uri(replicaDb),
        "--amqp",
        TestEnvironment.amqpUri(),
        "--exchange",
        fx.exchange,
        "--name",
        fx.replicaName("r1"));
    for (int i = 1; i <= 40; i++) {
      exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO public.t VALUES (" + i + ", 'x')");
    }
    JsonNode before = status();
    assertThat(before.at("/primary/backlogChanges").asLong()).isEqualTo(40);
    assertThat(before.at("/primary/backlogTransactions").asLong()).isEqualTo(40);
    assertThat(before.at("/primary/oldestAgeTransactions").asLong()).isGreaterThanOrEqualTo(40);
    assertThat(before.at("/primary/publisher").isNull()).isTrue();
    assertThat(before.at("/primary/lastPosition").asLong()).isZero();
    JsonNode replica = before.at("/replicas/0");
    assertThat(replica.at("/queue").asText()).isEqualTo("replicador." + fx.replicaName("r1"));
    assertThat(replica.at("/messages").asLong()).isZero();
    assertThat(replica.at("/consumers").asInt()).isZero();
    assertThat(replica.at("/deadLettered").asLong()).isZero();
    assertThat(replica.at("/appliedPosition").isNull()).isTrue();

    fx.startPublisher();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              JsonNode s = status();
              assertThat(s.at("/primary/backlogChanges").asLong()).isZero();
              assertThat(s.at("/primary/lastPosition").asLong()).isEqualTo(40);
              assertThat(s.at("/primary/publisher/pid").asInt()).isPositive();
              assertThat(s.at("/replicas/0/messages").asLong()).isPositive();
            });

    fx.startListener("r1", Set.of());
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              JsonNode s = status().at("/replicas/0");
              assertThat(s.at("/messages").asLong()).isZero();
              assertThat(s.at("/consumers").asInt()).isEqualTo(1);
              assertThat(s.at("/appliedPosition").asLong()).isEqualTo(40);
              assertThat(s.at("/behind").asLong()).isZero();
              assertThat(s.at("/lagSeconds").asDouble()).isZero();
            });
    String text =
        run(
            "status",
            "--primary",
            fx.primaryUri(),
            "--amqp",
            TestEnvironment.amqpUri(),
            "--replica",
            fx.replicaName("r1") + "=" + fx.replicaCluster.uri(replicaDb));
    assertThat(text)
        .contains("backlog: 0 change(s)")
        .contains("publisher: active")
        .contains("applied position 40 (0 behind)");
  }

  @Test
  void listsThePublishersWaitingAsStandby() throws Exception {
    fx.startPublisher();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> status().at("/primary/publisher/pid").asInt() > 0);
    assertThat(status().at("/primary/standbys").size()).isZero();
    fx.startPublisher(); // a second one on the same primary waits
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              JsonNode standbys = status().at("/primary/standbys");
              assertThat(standbys.size()).isEqualTo(1);
              assertThat(standbys.at("/0/pid").asInt())
                  .isPositive()
                  .isNotEqualTo(status().at("/primary/publisher/pid").asInt());
            });
    String text = run("status", "--primary", fx.primaryUri(), "--amqp", TestEnvironment.amqpUri());
    assertThat(text).contains("publisher: active").contains("publisher: standby (pid ");
  }

  @Test
  void listsEveryReplicaTheExchangeFeedsAndFlagsOneNobodyConsumes() throws Exception {
    exec(fx.replicaCluster, replicaDb, "CREATE TABLE public.t (id int PRIMARY KEY, v text)");
    fx.startListener("r1", Set.of());
    fx.startPublisher();
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO public.t VALUES (1, 'x')");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> "1".equals(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM public.t")));
    fx.stopServices();
    fx.startPublisher(); // ships on; nobody consumes r1's queue now
    exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO public.t VALUES (2, 'y')");
    String[] unnamed = {
      "status",
      "--primary",
      fx.primaryUri(),
      "--amqp",
      TestEnvironment.amqpUri(),
      "--exchange",
      fx.exchange,
      "--json"
    };
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              JsonNode r = new ObjectMapper().readTree(run(unnamed)).at("/replicas/0");
              assertThat(r.at("/name").asText()).isEqualTo(fx.replicaName("r1"));
              assertThat(r.at("/consumers").asInt()).isZero();
              assertThat(r.at("/problem").asText())
                  .contains("no listener consumes this queue")
                  .contains("remove-replica --name " + fx.replicaName("r1"));
            });
    fx.stopServices();
    assertThat(
            Main.run(
                "remove-replica",
                "--name",
                fx.replicaName("r1"),
                "--exchange",
                fx.exchange,
                "--amqp",
                TestEnvironment.amqpUri()))
        .isZero();
    assertThat(new ObjectMapper().readTree(run(unnamed)).at("/replicas").size()).isZero();
  }
}
