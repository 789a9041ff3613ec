package io.replicador.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.broker.StreamRetention;
import io.replicador.broker.StreamTopology;
import io.replicador.broker.Topology;
import io.replicador.cli.Main;
import io.replicador.config.ConfigException;
import io.replicador.testing.CliRun;
import io.replicador.testing.TestEnvironment;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The embedded broker does the AMQP 0-9-1 that Replicador uses, with the RabbitMQ client. */
class EmbeddedBrokerIT {
  private static final AMQP.BasicProperties PERSISTENT =
      new AMQP.BasicProperties.Builder().deliveryMode(2).build();
  private static EmbeddedBroker broker;

  @BeforeAll
  static void start() {
    broker = EmbeddedBroker.start();
  }

  @AfterAll
  static void stop() {
    broker.close();
  }

  private static Connection connect() throws Exception {
    return BrokerAddress.parse(broker.uri()).factory().newConnection("embedded-broker-test");
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void routesConfirmsAndDeliversWithManualAcks() throws Exception {
    try (Connection c = connect();
        Channel ch = c.createChannel()) {
      ch.exchangeDeclare("ex1", "topic", true);
      ch.queueDeclare("q1", true, false, false, Map.of());
      ch.queueBind("q1", "ex1", "#");
      ch.confirmSelect();
      ch.basicPublish("ex1", "changes", true, PERSISTENT, utf8("hello"));
      ch.basicPublish("", "q1", false, PERSISTENT, utf8("via default exchange"));
      ch.waitForConfirmsOrDie(10_000);
      assertThat(ch.queueDeclarePassive("q1").getMessageCount()).isEqualTo(2);
      ch.basicQos(10);
      BlockingQueue<String> got = new ArrayBlockingQueue<>(10);
      ch.basicConsume(
          "q1",
          false,
          (tag, d) -> {
            got.add(new String(d.getBody(), StandardCharsets.UTF_8));
            ch.basicAck(d.getEnvelope().getDeliveryTag(), false);
          },
          tag -> {});
      assertThat(got.poll(10, TimeUnit.SECONDS)).isEqualTo("hello");
      assertThat(got.poll(10, TimeUnit.SECONDS)).isEqualTo("via default exchange");
    }
    Connection c = connect();
    try {
      Channel ch = c.createChannel();
      GetResponse r = ch.basicGet("q1", true);
      assertThat(r).as("acked messages are gone").isNull();
      assertThatThrownBy(() -> ch.queueDeclarePassive("no-such-queue"))
          .isInstanceOf(IOException.class);
    } finally {
      c.abort();
    }
  }

  @Test
  void returnsAMandatoryMessageNoQueueTakes() throws Exception {
    try (Connection c = connect();
        Channel ch = c.createChannel()) {
      ch.exchangeDeclare("unbound", "topic", true);
      BlockingQueue<String> returned = new ArrayBlockingQueue<>(10);
      ch.addReturnListener(r -> returned.add(r.getRoutingKey()));
      ch.basicPublish("unbound", "nowhere", true, PERSISTENT, utf8("lost"));
      assertThat(returned.poll(10, TimeUnit.SECONDS)).isEqualTo("nowhere");
    }
  }

  @Test
  void replicaQueuesArePlainAndTheirConsumersExclusive() throws Exception {
    try (Connection c = connect();
        Channel ch = c.createChannel()) {
      assertThat(Topology.isRabbitMq(ch)).isFalse();
      Topology.ReplicaQueue q = Topology.declareReplicaQueue(ch, "ex2", "r1", QueueType.QUORUM);
      assertThat(q.singleActiveConsumer()).isFalse();
      assertThat(ch.queueDeclarePassive(Topology.deadLetterQueueName("r1"))).isNotNull();
      ch.basicConsume(q.name(), false, "first", false, true, null, (tag, d) -> {}, tag -> {});
      Connection second = connect();
      try {
        Channel other = second.createChannel();
        assertThatThrownBy(
                () ->
                    other.basicConsume(
                        q.name(), false, "second", false, true, null, (t, d) -> {}, t -> {}))
            .isInstanceOf(IOException.class);
      } finally {
        second.abort();
      }
    }
  }

  @Test
  void hasNoStreamsAndSaysSoInOneLine() throws Exception {
    try (Connection c = connect();
        Channel ch = c.createChannel()) {
      assertThatThrownBy(() -> StreamTopology.declare(ch, "ex3", StreamRetention.NONE))
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("--queue-type stream needs RabbitMQ");
    }
    String db =
        TestEnvironment.replicaCluster()
            .createDatabase(TestEnvironment.uniqueName("embedded_stream"));
    CliRun run =
        CliRun.of(
            "listen",
            "--replica",
            TestEnvironment.replicaCluster().uri(db),
            "--amqp",
            broker.uri(),
            "--exchange",
            "ex3",
            "--name",
            "r3",
            "--queue-type",
            "stream",
            "--connect-timeout",
            "10");
    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err())
        .contains("--queue-type stream needs RabbitMQ")
        .contains("use --queue-type quorum")
        .hasLineCount(1);
  }
}
