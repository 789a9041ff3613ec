package io.replicador.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonLogLayoutTest {
  private final LoggerContext context = new LoggerContext();
  private final Logger logger = context.getLogger("io.replicador.apply.ReplicaListener");

  @Test
  void writesOneObjectPerLineWithTheMdcFields() throws Exception {
    LoggingEvent event =
        new LoggingEvent(
            "x",
            logger,
            Level.ERROR,
            "Listener {}: cannot apply\nline two",
            new IllegalStateException("boom"),
            new Object[] {"r1"});
    event.setMDCPropertyMap(Map.of("replica", "r1", "position", "42", "table", "public.t"));
    String line = new JsonLogLayout().doLayout(event);
    assertThat(line).endsWith("\n");
    assertThat(line.strip()).doesNotContain("\n");
    JsonNode json = new ObjectMapper().readTree(line);
    assertThat(json.path("level").asText()).isEqualTo("ERROR");
    assertThat(json.path("logger").asText()).isEqualTo("io.replicador.apply.ReplicaListener");
    assertThat(json.path("message").asText()).isEqualTo("Listener r1: cannot apply\nline two");
    assertThat(json.path("replica").asText()).isEqualTo("r1");
    assertThat(json.path("position").asText()).isEqualTo("42");
    assertThat(json.path("table").asText()).isEqualTo("public.t");
    assertThat(json.path("error").asText()).contains("IllegalStateException: boom");
    assertThat(json.path("time").asText()).endsWith("Z");
  }

  @Test
  void leavesOutFieldsThatAreNotSet() throws Exception {
    LoggingEvent event = new LoggingEvent("x", logger, Level.INFO, "started", null, null);
    event.setMDCPropertyMap(Map.of());
    JsonNode json = new ObjectMapper().readTree(new JsonLogLayout().doLayout(event));
    assertThat(json.has("replica")).isFalse();
    assertThat(json.has("error")).isFalse();
  }
}
