package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Connection;
import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.BrokerTls;
import io.replicador.broker.BrokerUnreachableException;
import io.replicador.broker.QueueType;
import io.replicador.cli.Main;
import io.replicador.config.PostgresAddress;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import io.replicador.testing.RabbitNode;
import io.replicador.testing.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Issue 21: amqps:// verifies the broker's certificate and host name. A RabbitMQ node of this
 * test's own listens with TLS, its certificate (for DNS:localhost) signed by a CA generated here,
 * which no trust store knows. Skipped, saying why, where rabbitmq-server or openssl is missing.
 */
class TlsBrokerIT {
  private static Path certificates;
  private static TestCertificates ca;
  private static TestCertificates.Issued client;
  private static RabbitNode node;

  @BeforeAll
  static void startNode() {
    String why = RabbitNode.unavailable();
    Assumptions.assumeTrue(
        why == null, "needs a RabbitMQ node with TLS of the test's own, but " + why);
    certificates = RabbitNode.newDirectory("tls-certificates");
    ca = TestCertificates.authority(certificates, "Replicador test CA");
    TestCertificates.Issued server = ca.issue("broker", "localhost", "DNS:localhost");
    client = ca.issue("client", "replicador-client");
    // a client certificate is checked when given, not required (so that one node serves all)
    node =
        RabbitNode.start(
            "tls",
            RabbitNode.Options.plain()
                .withTls(server, false)
                .withConfig("ssl_options.verify = verify_peer"));
  }

  @AfterAll
  static void stopNode() throws Exception {
    if (node != null) {
      node.close();
    }
    if (certificates != null) {
      try (Stream<Path> files = Files.walk(certificates)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static BrokerAddress address(String host, BrokerTls tls) {
    return BrokerAddress.parse(node.amqpsUri(host)).withTls(tls);
  }

  private static BrokerTls caOnly() {
    return new BrokerTls(ca.caFile(), null, null, false);
  }

  @Test
  void anUntrustedCertificateIsRefusedWithAClearError() {
    assertThatThrownBy(() -> address("localhost", BrokerTls.DEFAULT).connect("test").close())
        .isInstanceOf(BrokerUnreachableException.class)
        .hasMessageContaining("Cannot connect to RabbitMQ at localhost:" + node.tlsPort())
        .hasMessageContaining("the broker's TLS certificate is not trusted")
        .hasMessageContaining("--amqp-ca");
    // a command stops at once (exit 2) rather than waiting for the broker
    assertThat(Main.run("remove-replica", "--name", "nobody", "--amqp", node.amqpsUri("localhost")))
        .isEqualTo(2);
  }

  @Test
  void theCertificateIsAcceptedWithItsCaFile() throws Exception {
    try (Connection c = address("localhost", caOnly()).connect("test")) {
      assertThat(c.isOpen()).isTrue();
    }
  }

  @Test
  void aCertificateForAnotherHostIsRefused() {
    assertThatThrownBy(() -> address("127.0.0.1", caOnly()).connect("test").close())
        .isInstanceOf(BrokerUnreachableException.class)
        .hasMessageContaining("not made out to this host");
  }

  @Test
  void aClientCertificateIsPresented() throws Exception {
    BrokerTls withCertificate = new BrokerTls(ca.caFile(), client.cert(), client.key(), false);
    try (Connection c = address("localhost", withCertificate).connect("with-client-cert")) {
      assertThat(node.ctl("list_connections", "name", "peer_cert_subject"))
          .contains("CN=replicador-client");
    }
  }

  @Test
  void insecureAcceptsAnyCertificate() throws Exception {
    try (Connection c =
        address("127.0.0.1", new BrokerTls(null, null, null, true)).connect("test")) {
      assertThat(c.isOpen()).isTrue();
    }
  }

  @Test
  void changesReplicateOverVerifiedTls(TestInfo info) throws Exception {
    try (ReplicationFixture fx =
        new ReplicationFixture(info.getTestMethod().orElseThrow().getName())) {
      String replicaDb = fx.replicaDb("r1");
      exec(fx.primaryCluster, fx.primaryDb, "CREATE TABLE t (id int PRIMARY KEY, v text)");
      exec(fx.replicaCluster, replicaDb, "CREATE TABLE t (id int PRIMARY KEY, v text)");
      assertThat(Main.run("install", "--primary", fx.primaryUri(), "--tables", "public.t"))
          .isZero();
      BrokerAddress broker = address("localhost", caOnly());
      try (ReplicaListener listener =
              new ReplicaListener(
                  new ListenerSettings(
                      PostgresAddress.parse("replica", fx.replicaCluster.uri(replicaDb)),
                      broker,
                      fx.exchange,
                      fx.replicaName("r1"),
                      QueueType.QUORUM,
                      Set.of(),
                      ListenerSettings.DEFAULT_PREFETCH));
          ChangePublisher publisher =
              new ChangePublisher(
                  PublisherSettings.defaults(
                      PostgresAddress.parse("primary", fx.primaryUri()), broker, fx.exchange))) {
        for (Runnable r : new Runnable[] {listener, publisher}) {
          Thread t = new Thread(r, "test-tls");
          t.setDaemon(true);
          t.start();
        }
        exec(fx.primaryCluster, fx.primaryDb, "INSERT INTO t VALUES (1, 'over tls')");
        await()
            .atMost(Duration.ofSeconds(90))
            .pollInterval(Duration.ofMillis(200))
            .until(() -> "over tls".equals(query(fx.replicaCluster, replicaDb, "SELECT v FROM t")));
      }
    }
  }
}
