package io.replicador.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.ConnectionFactory;
import io.replicador.Failures;
import io.replicador.config.ConfigException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/**
 * Tests {@link BrokerAddress} through its public API. Kept in this package (it throws {@link
 * ConfigException}) because the unit-test layout reserves no broker test directory.
 */
class BrokerAddressTest {

  @Test
  void parsesAmqpUriIntoFactorySettings() {
    BrokerAddress a = BrokerAddress.parse("amqp://app:s3cret@rabbit.example:5673/prod");

    ConnectionFactory f = a.factory();
    assertThat(f.getHost()).isEqualTo("rabbit.example");
    assertThat(f.getPort()).isEqualTo(5673);
    assertThat(f.getUsername()).isEqualTo("app");
    assertThat(f.getPassword()).isEqualTo("s3cret");
    assertThat(f.getVirtualHost()).isEqualTo("prod");
    assertThat(f.isAutomaticRecoveryEnabled()).isFalse();
  }

  @Test
  void acceptsAmqpsAndSurroundingWhitespace() {
    BrokerAddress a = BrokerAddress.parse("  amqps://u:p@h/  ");

    assertThat(a.factory().isSSL()).isTrue();
    assertThat(a).hasToString("amqps://u:***@h");
  }

  @Test
  void toStringRedactsPassword() {
    BrokerAddress a = BrokerAddress.parse("amqp://app:TopSecret@h:5672/%2F");

    assertThat(a).hasToString("amqp://app:***@h:5672/%2F");
  }

  @Test
  void toStringKeepsAddressWithoutPassword() {
    assertThat(BrokerAddress.parse("amqp://app@h:5672/vh")).hasToString("amqp://app@h:5672/vh");
    assertThat(BrokerAddress.parse("amqp://h")).hasToString("amqp://h");
  }

  @Test
  void trailingSlashMeansDefaultVirtualHost() {
    BrokerAddress a = BrokerAddress.parse("amqp://app@h:5672/");
    assertThat(a.factory().getVirtualHost()).isEqualTo("/");
    assertThat(a).hasToString("amqp://app@h:5672");

    BrokerAddress withQuery = BrokerAddress.parse("amqp://h/?heartbeat=5");
    assertThat(withQuery.factory().getVirtualHost()).isEqualTo("/");
    assertThat(withQuery).hasToString("amqp://h?heartbeat=5");
  }

  @Test
  void otherSchemeIsRejectedWithoutLeakingPassword() {
    assertThatThrownBy(() -> BrokerAddress.parse("http://app:TopSecret@h:15672/"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("not an AMQP URI")
        .hasMessageContaining("http://app:***@h:15672/")
        .message()
        .doesNotContain("TopSecret");
  }

  @Test
  void schemeLessTextIsRejected() {
    assertThatThrownBy(() -> BrokerAddress.parse("rabbit.example:5672"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("amqp://");
  }

  @Test
  void malformedUriIsRejectedWithoutLeakingPassword() {
    assertThatThrownBy(() -> BrokerAddress.parse("amqp://app:TopSecret@h:notaport/"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("amqp://")
        .message()
        .doesNotContain("TopSecret");
  }

  @Test
  void unparsableUriIsRejectedWithoutLeakingPassword() {
    assertThatThrownBy(() -> BrokerAddress.parse("amqp://app:Top Secret@h:5672/"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("malformed")
        .message()
        .doesNotContain("Top Secret");
  }

  @Test
  void hostThatIsNotAServerNameIsRejectedInsteadOfFallingBackToLocalhost() {
    // java.net.URI treats "rabbit_1:5672" as a registry authority with no host; the client
    // would then silently connect to localhost as guest
    assertThatThrownBy(() -> BrokerAddress.parse("amqp://app:TopSecret@rabbit_1:5672/"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("amqp://app:***@rabbit_1:5672/")
        .message()
        .doesNotContain("TopSecret");
  }

  @Test
  void missingAddressNamesOptionAndVariable() {
    assertThatThrownBy(() -> BrokerAddress.parse(""))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("--amqp")
        .hasMessageContaining("REPLICADOR_AMQP");
    assertThatThrownBy(() -> BrokerAddress.parse(null)).isInstanceOf(ConfigException.class);
  }

  @Test
  void aRefusedConnectionNamesHostAndPortButNotThePassword() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    BrokerAddress a = BrokerAddress.parse("amqp://app:TopSecret@127.0.0.1:" + closedPort + "/");

    assertThatThrownBy(() -> a.connect("replicador-test"))
        .isInstanceOf(BrokerUnreachableException.class)
        .hasMessage(
            "Cannot connect to RabbitMQ at 127.0.0.1:" + closedPort + ": connection refused")
        .hasCauseInstanceOf(ConnectException.class)
        .satisfies(
            e ->
                assertThat(Failures.describe(e))
                    .isEqualTo(
                        "Cannot connect to RabbitMQ at 127.0.0.1:"
                            + closedPort
                            + ": connection refused"));
  }

  @Test
  void severalNodesAreCommaSeparatedAndShownWithoutPasswords() {
    BrokerAddress a =
        BrokerAddress.parse(
            " amqp://app:TopSecret@r1:5672/prod, amqp://app:TopSecret@r2:5672/prod,"
                + "amqp://app:TopSecret@r3/prod ");

    assertThat(a.nodeCount()).isEqualTo(3);
    assertThat(a)
        .hasToString(
            "amqp://app:***@r1:5672/prod,amqp://app:***@r2:5672/prod,amqp://app:***@r3/prod");
    assertThat(a.factory().getVirtualHost()).isEqualTo("prod");
  }

  @Test
  void anEmptyNodeOrMixedSchemesAreRefused() {
    assertThatThrownBy(() -> BrokerAddress.parse("amqp://app:TopSecret@r1/,,amqp://r2/"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("empty node")
        .message()
        .doesNotContain("TopSecret");
    assertThatThrownBy(() -> BrokerAddress.parse("amqps://r1/,amqp://r2/"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("mix amqp:// and amqps://");
    assertThatThrownBy(() -> BrokerAddress.parse("amqp://r1/,r2:5672"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'r2:5672' is not an AMQP URI");
  }

  @Test
  void whenNoNodeAnswersEachIsNamedWithItsReason() throws Exception {
    int first;
    int second;
    try (ServerSocket s1 = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ServerSocket s2 = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      first = s1.getLocalPort();
      second = s2.getLocalPort();
    }
    BrokerAddress a =
        BrokerAddress.parse(
            "amqp://app:TopSecret@127.0.0.1:"
                + first
                + "/,amqp://app:TopSecret@127.0.0.1:"
                + second
                + "/");

    assertThatThrownBy(() -> a.connect("replicador-test"))
        .isInstanceOf(BrokerUnreachableException.class)
        .hasMessageStartingWith("Cannot connect to any RabbitMQ node (")
        .hasMessageContaining("127.0.0.1:" + first + ": connection refused")
        .hasMessageContaining("127.0.0.1:" + second + ": connection refused")
        .hasCauseInstanceOf(ConnectException.class);
  }

  @Test
  void anUnknownHostIsNamed() {
    BrokerAddress a = BrokerAddress.parse("amqp://app:TopSecret@no-such-host.invalid:5673/");

    assertThatThrownBy(() -> a.connect("replicador-test"))
        .isInstanceOf(BrokerUnreachableException.class)
        .hasMessage(
            "Cannot connect to RabbitMQ at no-such-host.invalid:5673: unknown host"
                + " no-such-host.invalid");
  }

  @Test
  void amqpsVerifiesTheBrokerByDefaultOnPort5671() {
    ConnectionFactory f = BrokerAddress.parse("amqps://u:p@rabbit.example/v").factory();
    assertThat(f.isSSL()).isTrue();
    assertThat(f.getPort()).isEqualTo(5671);
    assertThat(f.getHost()).isEqualTo("rabbit.example");
    assertThat(f.getVirtualHost()).isEqualTo("v");
    assertThat(BrokerAddress.parse("amqps://u:p@rabbit.example:6000/").factory().getPort())
        .isEqualTo(6000);
    ConnectionFactory escaped = BrokerAddress.parse("amqps://u:p%40ss@[::1]/%2F").factory();
    assertThat(escaped.getPassword()).isEqualTo("p@ss");
    assertThat(escaped.getVirtualHost()).isEqualTo("/");
    assertThat(escaped.getPort()).isEqualTo(5671);
  }

  @Test
  void tlsOptionsNeedAnAmqpsAddress() {
    assertThatThrownBy(
            () ->
                BrokerAddress.parse("amqp://u:secret@h/")
                    .withTls(new BrokerTls(null, null, null, true)))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("write amqps://")
        .hasMessageNotContaining("secret");
  }

  @Test
  void aClientCertificateNeedsItsKey() {
    assertThatThrownBy(() -> new BrokerTls(null, java.nio.file.Path.of("c.pem"), null, false))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("--amqp-cert and --amqp-key go together");
  }
}
