package io.replicador.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.testing.CliRun;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/**
 * {@code --metrics} and {@code --log-format} that cannot work: one line, exit 2, before any server.
 */
class MetricsOptionTest {
  private static final String[] PUBLISH = {
    "publish",
    "--primary",
    "postgresql://u:TopSecret1@127.0.0.1:1/db",
    "--amqp",
    "amqp://guest:TopSecret2@127.0.0.1:1/"
  };

  private static CliRun publish(String... more) {
    String[] args = new String[PUBLISH.length + more.length];
    System.arraycopy(PUBLISH, 0, args, 0, PUBLISH.length);
    System.arraycopy(more, 0, args, PUBLISH.length, more.length);
    return CliRun.of(args);
  }

  @Test
  void anAddressThatIsNotHostAndPortIsRefused() {
    CliRun run = publish("--metrics", "9187");
    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err())
        .isEqualTo(
            "replicador: --metrics '9187' is not HOST:PORT; expected HOST:PORT, e.g."
                + " 0.0.0.0:9187 (port 0 picks a free port)\n");
  }

  @Test
  void aPortInUseIsRefusedWithOneLine() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String address = "127.0.0.1:" + taken.getLocalPort();
      CliRun run = publish("--metrics", address);
      assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
      assertThat(run.err())
          .contains("replicador: --metrics " + address + " cannot be bound")
          .doesNotContain("TopSecret")
          .doesNotContain("\tat ");
    }
  }

  @Test
  void anUnknownLogFormatIsRefused() {
    CliRun run = publish("--log-format", "xml");
    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err()).isEqualTo("replicador: --log-format must be text or json, got 'xml'\n");
  }
}
