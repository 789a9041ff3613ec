package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueSubscription;
import io.replicador.broker.Topology;
import io.replicador.cli.Main;
import io.replicador.codec.MessageSignature;
import io.replicador.codec.SigningKey;
import io.replicador.publish.ChangePublisher;
import io.replicador.testing.TestEnvironment;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Issue 21: only the primary's publisher changes a replica. A listener given signing keys applies
 * only messages signed with one of them; forged, wrongly signed and replayed messages change
 * nothing, and a position far ahead halts the listener (visibly, in status) instead of silently
 * skipping the real changes after it.
 */
class SignedStreamIT {
  private static final String CONTENT_TYPE = "application/vnd.replicador.v1+json";
  private final SigningKey key = newKey();
  private final SigningKey otherKey = newKey();
  private ReplicationFixture fx;
  private String replicaDb;

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
    String table = "CREATE TABLE accounts (id int PRIMARY KEY, owner text)";
    exec(fx.primaryCluster, fx.primaryDb, table);
    exec(fx.replicaCluster, replicaDb, table);
    assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", "public.accounts"))
        .isZero();
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private static SigningKey newKey() {
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    return SigningKey.of(secret);
  }

  private static MessageSignature signing(SigningKey... keys) {
    return new MessageSignature(List.of(keys));
  }

  private void primary(String sql) {
    exec(fx.primaryCluster, fx.primaryDb, sql);
  }

  private String replicaRows() {
    return query(
        fx.replicaCluster,
        replicaDb,
        "SELECT coalesce(string_agg(id || '=' || owner, ',' ORDER BY id), '') FROM accounts");
  }

  private void awaitReplicaRows(String rows) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> rows.equals(replicaRows()));
  }

  private String sourceId() {
    return query(fx.primaryCluster, fx.primaryDb, "SELECT source_id FROM replicador.source");
  }

  /** A change message as the documented format spells it: inserts 666, takes over row 1. */
  private static byte[] forgedBody(String source, long position) {
    return ("{\"format\":\"replicador\",\"version\":1,\"source\":\""
            + source
            + "\",\"relations\":[{\"schema\":\"public\",\"table\":\"accounts\","
            + "\"columns\":[\"id\",\"owner\"],\"key\":[\"id\"]}],\"transactions\":[{\"position\":"
            + position
            + ",\"xid\":\"9\",\"part\":0,\"last\":true,\"changes\":["
            + "{\"op\":\"insert\",\"relation\":0,\"values\":[\"666\",\"forged\"]},"
            + "{\"op\":\"update\",\"relation\":0,\"key\":[\"1\"],\"values\":[\"1\",\"owned\"]}]}]}")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** Publishes a forged message, signed with {@code signing} unless it is null. */
  private void publishForged(String source, long position, MessageSignature signing)
      throws Exception {
    byte[] body = forgedBody(source, position);
    String id = source + ":" + position + ":0";
    Map<String, Object> headers =
        Map.of("replicador-source", source, "replicador-position", position);
    if (signing != null) {
      headers = signing.sign(id, CONTENT_TYPE, headers, body);
    }
    fx.publishRaw(
        body,
        new AMQP.BasicProperties.Builder()
            .contentType(CONTENT_TYPE)
            .messageId(id)
            .deliveryMode(2)
            .headers(headers)
            .build());
  }

  private String deadLetterReason() throws Exception {
    GetResponse dead =
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () -> fx.take(Topology.deadLetterQueueName(fx.replicaName("r1"))),
                o -> o.isPresent())
            .orElseThrow();
    return dead.getProps().getHeaders().get(QueueSubscription.REASON_HEADER).toString();
  }

  /** Whatever was forged, the next real change arrives and the forged one left no trace. */
  private void assertOnlyRealChangesApplied() {
    primary("INSERT INTO accounts VALUES (2, 'bob')");
    awaitReplicaRows("1=ada,2=bob");
  }

  @Test
  void aForgedUnsignedMessageIsDeadLetteredAndNothingApplied() throws Exception {
    ReplicaListener listener = fx.startListener("r1", signing(key));
    fx.startPublisher(signing(key));
    primary("INSERT INTO accounts VALUES (1, 'ada')");
    awaitReplicaRows("1=ada");

    publishForged("a-new-source", 1, null);
    publishForged(sourceId(), 2, null);

    assertThat(deadLetterReason()).startsWith("rejected: unsigned");
    assertOnlyRealChangesApplied();
    assertThat(listener.rejected()).isEqualTo(2);
    assertThat(listener.positions()).containsOnlyKeys(sourceId()).containsValue(2L);
  }

  @Test
  void aMessageSignedWithAnotherKeyIsRejected() throws Exception {
    ReplicaListener listener = fx.startListener("r1", signing(key));
    fx.startPublisher(signing(key));
    primary("INSERT INTO accounts VALUES (1, 'ada')");
    awaitReplicaRows("1=ada");

    publishForged(sourceId(), 2, signing(otherKey));

    assertThat(deadLetterReason()).startsWith("rejected: signed with key '" + otherKey.id() + "'");
    assertOnlyRealChangesApplied();
    assertThat(listener.rejected()).isEqualTo(1);
  }

  @Test
  void aReplayedSignedMessageIsNotAppliedAgain() throws Exception {
    fx.startListener("r1", signing(key));
    String capture = "capture." + fx.name;
    try (Connection c = BrokerAddress.parse(TestEnvironment.amqpUri()).factory().newConnection();
        Channel ch = c.createChannel()) {
      ch.queueDeclare(capture, false, false, false, null);
      ch.queueBind(capture, fx.exchange, "#");
    }
    try {
      fx.startPublisher(signing(key));
      primary("INSERT INTO accounts VALUES (1, 'ada')");
      awaitReplicaRows("1=ada");
      primary("DELETE FROM accounts WHERE id = 1");
      primary("INSERT INTO accounts VALUES (3, 'cy')");
      awaitReplicaRows("3=cy");
      GetResponse first = fx.take(capture).orElseThrow();
      assertThat(first.getProps().getHeaders()).containsKey("replicador-signature");

      fx.publishRaw(first.getBody(), first.getProps()); // the insert of row 1, again

      primary("INSERT INTO accounts VALUES (4, 'di')");
      awaitReplicaRows("3=cy,4=di");
    } finally {
      try (Connection c = BrokerAddress.parse(TestEnvironment.amqpUri()).factory().newConnection();
          Channel ch = c.createChannel()) {
        ch.queueDelete(capture);
      }
    }
  }

  @Test
  void aPositionFarAheadHaltsTheListenerAndStatusShowsItUntilItAppliesAgain() throws Exception {
    ReplicaListener listener = fx.startListener("r1", signing(key));
    fx.startPublisher(signing(key));
    primary("INSERT INTO accounts VALUES (1, 'ada')");
    awaitReplicaRows("1=ada");

    // signed with the real key: only the position gives it away
    publishForged(sourceId(), 1_000_000, signing(key));
    primary("INSERT INTO accounts VALUES (2, 'bob')");

    JsonNode halted =
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(200))
            .until(() -> status().at("/replicas/0"), r -> r.hasNonNull("halted"));
    assertThat(halted.get("halted").asText())
        .contains("position 1000000")
        .contains("positions 2..999999 never arrived");
    assertThat(halted.get("appliedPosition").asLong()).isEqualTo(1);
    assertThat(halted.get("lagSeconds").asDouble()).isPositive();
    assertThat(statusText()).contains("HALTED: message " + sourceId() + ":1000000:0");
    assertThat(replicaRows()).isEqualTo("1=ada");
    assertThat(listener.positions()).containsValue(1L);

    // the operator removes the message and starts the listener again: it applies, and the
    // halt is gone
    fx.stopServices();
    byte[] removed = fx.takeFirst(Topology.queueName(fx.replicaName("r1")));
    assertThat(new String(removed, StandardCharsets.UTF_8)).contains("\"position\":1000000");
    fx.startListener("r1", signing(key));
    fx.startPublisher(signing(key));
    awaitReplicaRows("1=ada,2=bob");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> !status().at("/replicas/0").hasNonNull("halted"));
  }

  @Test
  void bothKeysApplyDuringARotation() throws Exception {
    ReplicaListener listener = fx.startListener("r1", signing(otherKey, key));
    ChangePublisher old = fx.startPublisher(signing(key));
    primary("INSERT INTO accounts VALUES (1, 'ada')");
    awaitReplicaRows("1=ada");
    old.close();

    fx.startPublisher(signing(otherKey));
    primary("INSERT INTO accounts VALUES (2, 'bob')");
    awaitReplicaRows("1=ada,2=bob");
    assertThat(listener.rejected()).isZero();
  }

  private String runOut(String... args) {
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

  private String[] statusArgs(String... more) {
    List<String> args =
        new java.util.ArrayList<>(
            List.of(
                "status",
                "--primary",
                fx.primaryUri(),
                "--amqp",
                TestEnvironment.amqpUri(),
                "--exchange",
                fx.exchange,
                "--replica",
                fx.replicaName("r1") + "=" + fx.replicaCluster.uri(replicaDb)));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  private JsonNode status() throws Exception {
    return new ObjectMapper().readTree(runOut(statusArgs("--json")));
  }

  private String statusText() {
    return runOut(statusArgs());
  }
}
