package io.replicador.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code replicador demo} with no settings, in-process: it replicates, says so, and cleans up. */
class DemoIT {
  @Test
  void demoReplicatesToBothReplicasSaysSoAndStopsItsServers() {
    demo("trigger");
  }

  @Test
  void demoWithCaptureFromTheWalReplicatesToo() {
    assertThat(demo("wal"))
        .contains("installed capture on the primary (a logical replication slot)");
  }

  private static String demo(String capture) {
    PrintStream oldOut = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int status;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      status = Main.run("demo", "--seconds", "5", "--rate", "50", "--capture", capture);
    } finally {
      System.setOut(oldOut);
    }
    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(status).as(text).isZero();
    assertThat(text)
        .contains("Both replicas match the primary")
        .containsPattern("replica1: \\d+ rows, md5 [0-9a-f]{32}  same as the primary")
        .containsPattern("replica2: \\d+ rows, md5 [0-9a-f]{32}  same as the primary")
        .containsPattern("\\| written [1-9]\\d* \\| captured")
        .containsPattern("Metrics: http://127\\.0\\.0\\.1:\\d+/metrics");
    List<Integer> ports = ports(text);
    assertThat(ports).hasSize(3);
    for (int port : ports) {
      assertThat(accepts(port)).as("server on port %d stopped", port).isFalse();
    }
    return text;
  }

  private static List<Integer> ports(String text) {
    Matcher m =
        Pattern.compile("primary on port (\\d+), replicas on ports (\\d+) and (\\d+)")
            .matcher(text);
    List<Integer> ports = new ArrayList<>();
    if (m.find()) {
      for (int g = 1; g <= 3; g++) {
        ports.add(Integer.parseInt(m.group(g)));
      }
    }
    return ports;
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
