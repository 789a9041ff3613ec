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
 * Values far larger than a message, and than the heap of the publisher and listener: a 50 MiB text
 * full of characters the row's text form escapes, a 20 MiB bytea and a 300 MiB text, with a
 * publisher and a listener that each run in a JVM of 256 MB. Regression test of issue 17: a 50 MiB
 * value ran the publisher out of memory, and at a larger heap every listener dead-lettered it.
 */
class LargeValueIT {
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

  private static final String TABLE =
      "CREATE TABLE public.big (id int PRIMARY KEY, t text, b bytea, note text)";
  private static final String MARKER = "CREATE TABLE public.marker (id int PRIMARY KEY)";

  /** What identifies each row's values, without moving them. */
  private static final String FINGERPRINT =
      "SELECT string_agg(concat_ws(' ', id, length(t), md5(t), length(b), md5(b), note), ' | '"
          + " ORDER BY id) FROM public.big";

  private void primary(String... sql) {
    exec(fx.primaryCluster, fx.primaryDb, sql);
  }

  @Test
  void valuesOfHundredsOfMegabytesReplicateWithA256MbHeapOnEitherSide() throws Exception {
    primary(TABLE, MARKER);
    exec(fx.replicaCluster, replicaDb, TABLE, MARKER);
    assertThat(
            Main.run(
                "install", "--primary", fx.primaryUri(), "--tables", "public.big,public.marker"))
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
      primary(
          // quotes, backslashes, commas and two-byte characters: the row's text form escapes
          // them, and a piece may end inside one
          "INSERT INTO public.big VALUES (1, repeat('a\"b\\c,é() ', 5 * 1024 * 1024),"
              + " (SELECT string_agg(decode(md5(g::text), 'hex'), '') FROM"
              + " generate_series(1, 20 * 1024 * 1024 / 16) g), 'first')",
          "INSERT INTO public.big VALUES (2, repeat('0123456789abcdef', 300 * 1024 * 1024 / 16),"
              + " NULL, NULL)",
          // updates and a key change read the large old row for its key
          "UPDATE public.big SET note = 'changed' WHERE id = 1",
          "UPDATE public.big SET id = 10 WHERE id = 1",
          "INSERT INTO public.big VALUES (3, '', '\\x', 'small')",
          "DELETE FROM public.big WHERE id = 3",
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
          .contains("10 52428800 ", " 20971520 ", "2 314572800 ");
      assertThat(publisher.output() + listener.output()).doesNotContain("OutOfMemoryError");
    }
  }
}
