package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicador.broker.QueueType;
import io.replicador.cli.Main;
import io.replicador.testing.ReplicadorProcess;
import io.replicador.testing.TestEnvironment;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * A transaction of a million rows and values of tens of megabytes, captured from the slot, with a
 * publisher and a listener of 256 MB heap each (separate JVMs).
 */
class WalLargeIT {
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

  private static final String DDL =
      "CREATE TABLE public.rows (id bigint PRIMARY KEY, v text);"
          + "CREATE TABLE public.big (id int PRIMARY KEY, t text, b bytea, note text);"
          + "CREATE TABLE public.marker (id int PRIMARY KEY)";

  private static final String FINGERPRINT =
      "SELECT (SELECT count(*) || ':' || sum(length(v)) FROM public.rows) || ' | '"
          + " || (SELECT string_agg(concat_ws(' ', id, length(t), md5(t), length(b), md5(b),"
          + " note), ' | ' ORDER BY id) FROM public.big)";

  @Test
  void aMillionRowTransactionAndLargeValuesReplicateWith256MbHeaps() throws Exception {
    exec(fx.primaryCluster, fx.primaryDb, DDL);
    exec(fx.replicaCluster, replicaDb, DDL);
    assertThat(
            Main.run(
                "install",
                "--capture",
                "wal",
                "--primary",
                fx.primaryUri(),
                "--tables",
                "public.rows,public.big,public.marker"))
        .isZero();
    TestEnvironment.declareReplicaQueue(fx.exchange, fx.replicaName("r1"), QueueType.QUORUM);
    String amqp = TestEnvironment.amqpUri();
    try (ReplicadorProcess listener =
            ReplicadorProcess.start(
                "listen",
                "--replica",
                fx.replicaCluster.uri(replicaDb),
                "--name",
                fx.replicaName("r1"),
                "--exchange",
                fx.exchange,
                "--amqp",
                amqp);
        ReplicadorProcess publisher =
            ReplicadorProcess.start(
                "publish",
                "--primary",
                fx.primaryUri(),
                "--exchange",
                fx.exchange,
                "--amqp",
                amqp)) {
      exec(
          fx.primaryCluster,
          fx.primaryDb,
          "INSERT INTO public.rows SELECT g, 'row ' || g FROM generate_series(1, 1000000) g",
          "INSERT INTO public.big VALUES (1, repeat('a\"b\\c,é() ', 5 * 1024 * 1024),"
              + " (SELECT string_agg(decode(md5(g::text), 'hex'), '') FROM"
              + " generate_series(1, 20 * 1024 * 1024 / 16) g), 'first')",
          // pgoutput leaves the unchanged large values out of this one
          "UPDATE public.big SET note = 'changed' WHERE id = 1",
          "UPDATE public.big SET id = 10 WHERE id = 1",
          "INSERT INTO public.marker VALUES (1)");
      await()
          .atMost(Duration.ofMinutes(8))
          .pollInterval(Duration.ofSeconds(1))
          .until(
              () -> {
                assertThat(publisher.isAlive()).as(publisher.output()).isTrue();
                assertThat(listener.isAlive()).as(listener.output()).isTrue();
                return "1"
                    .equals(
                        query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM public.marker"));
              });
      assertThat(query(fx.replicaCluster, replicaDb, FINGERPRINT))
          .isEqualTo(query(fx.primaryCluster, fx.primaryDb, FINGERPRINT))
          .startsWith("1000000:")
          .contains("10 52428800 ", " 20971520 ", " changed");
      assertThat(publisher.output() + listener.output()).doesNotContain("OutOfMemoryError");
    }
  }
}
