package io.replicador.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.demo.ProgressProbe.ReplicaState;
import io.replicador.demo.ProgressProbe.Sample;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class LiveViewTest {
  private static Sample sample(long seconds, long applied2) {
    return new Sample(
        Duration.ofSeconds(seconds),
        120,
        118,
        110,
        List.of(
            new ReplicaState("replica1", 100, Duration.ofMillis(250)),
            new ReplicaState("replica2", applied2, null)));
  }

  @Test
  void formatsOneCompactLinePerSample() {
    assertThat(LiveView.format(sample(7, 0)))
        .isEqualTo(
            "   7s | written 120 | captured 118 | shipped 110 | replica1 100 (lag 0.25 s)"
                + " | replica2 0 (lag -)");
  }

  @Test
  void plainOutputPrintsALineOnlyWhenSomethingChanged() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    LiveView view =
        new LiveView(new PrintStream(bytes, true, StandardCharsets.UTF_8), false, false);
    view.show(sample(1, 0));
    view.show(sample(2, 0));
    view.show(sample(3, 5));
    assertThat(bytes.toString(StandardCharsets.UTF_8).lines())
        .hasSize(2)
        .allSatisfy(l -> assertThat(l).doesNotContain("\r"));
  }

  @Test
  void terminalOutputRedrawsOneLine() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    LiveView view = new LiveView(new PrintStream(bytes, true, StandardCharsets.UTF_8), true, false);
    view.show(sample(1, 0));
    view.show(sample(2, 0));
    view.endLine();
    String text = bytes.toString(StandardCharsets.UTF_8);
    assertThat(text.split("\n", -1)).as("one line, ended once").hasSize(2);
    assertThat(text.split("\r\033\\[2K", -1)).as("cleared and redrawn twice").hasSize(3);
    assertThat(text).startsWith("\r\033[2K").contains("   2s |").endsWith(System.lineSeparator());
  }
}
