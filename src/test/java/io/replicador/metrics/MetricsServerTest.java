package io.replicador.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.config.ConfigException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class MetricsServerTest {
  private final HttpClient http = HttpClient.newHttpClient();

  private HttpResponse<String> get(MetricsServer server, String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://" + server.address() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void servesMetricsInThePrometheusTextFormat() throws Exception {
    Readiness readiness = new Readiness();
    try (MetricsServer server =
        MetricsServer.start(MetricsAddress.parse("127.0.0.1:0"), "publish", List.of(), readiness)) {
      PublisherMetrics metrics = new PublisherMetrics(server.registry());
      metrics.shipped(3, 7);
      metrics.published(1234);
      metrics.backlog(() -> new PublisherMetrics.Backlog(5, 2, null));
      metrics.slotRetainedWal("replicador", () -> 1.0);
      metrics.slotRetainedWal("replicador", () -> 4096.0); // a new session's supplier wins
      HttpResponse<String> r = get(server, "/metrics");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("Content-Type"))
          .hasValue("text/plain; version=0.0.4; charset=utf-8");
      assertThat(r.body())
          .contains("replicador_publisher_transactions_shipped_total{command=\"publish\"} 3.0")
          .contains("replicador_publisher_changes_shipped_total{command=\"publish\"} 7.0")
          .contains("replicador_publisher_published_bytes_total{command=\"publish\"} 1234.0")
          .contains("replicador_publisher_backlog_changes{command=\"publish\"} 5.0")
          .contains("replicador_publisher_backlog_oldest_age_seconds{command=\"publish\"} NaN")
          .contains(
              "replicador_slot_retained_wal_bytes{command=\"publish\",slot=\"replicador\"} 4096.0")
          .contains("jvm_threads_live_threads");
    }
  }

  @Test
  void readyIsA503WithTheReasonsUntilTheProblemsClear() throws Exception {
    Readiness readiness = new Readiness();
    try (MetricsServer server =
        MetricsServer.start(MetricsAddress.parse("127.0.0.1:0"), "listen", List.of(), readiness)) {
      ListenerMetrics metrics = new ListenerMetrics(server.registry(), "r1", readiness);
      readiness.problem("connection", "not yet connected to the replica and the broker");
      metrics.halted("public.orders", "Replica r1: table public.orders has no column \"x\"");
      HttpResponse<String> r = get(server, "/health/ready");
      assertThat(r.statusCode()).isEqualTo(503);
      assertThat(r.body())
          .isEqualTo(
              "{\"status\":\"not ready\",\"reasons\":{\"connection\":\"not yet connected to the"
                  + " replica and the broker\",\"halted\":\"Replica r1: table public.orders has no"
                  + " column \\\"x\\\"\"}}\n");
      assertThat(get(server, "/metrics").body())
          .contains(
              "replicador_listener_halted{command=\"listen\",replica=\"r1\",table=\"public.orders\"}"
                  + " 1.0");
      assertThat(get(server, "/health/live").statusCode()).isEqualTo(200);

      readiness.clear("connection");
      metrics.resumed();
      r = get(server, "/health/ready");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("{\"status\":\"ready\"}\n");
      assertThat(get(server, "/metrics").body())
          .contains(
              "replicador_listener_halted{command=\"listen\",replica=\"r1\",table=\"none\"} 0.0")
          .doesNotContain("table=\"public.orders\"");
    }
  }

  @Test
  void aProbeIsAskedAtMostOncePerInterval() {
    Readiness readiness = new Readiness();
    int[] asked = new int[1];
    readiness.probe(
        "database",
        Duration.ofHours(1),
        () -> {
          asked[0]++;
          return "down";
        });
    assertThat(readiness.problems()).containsEntry("database", "down");
    assertThat(readiness.problems()).containsEntry("database", "down");
    assertThat(asked[0]).isEqualTo(1);
  }

  @Test
  void aPortInUseIsAConfigurationError() {
    try (MetricsServer first =
        MetricsServer.start(
            MetricsAddress.parse("127.0.0.1:0"), "publish", List.of(), new Readiness())) {
      String taken = first.address();
      assertThatThrownBy(
              () ->
                  MetricsServer.start(
                      MetricsAddress.parse(taken), "publish", List.of(), new Readiness()))
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("--metrics " + taken + " cannot be bound")
          .hasMessageContaining("in use");
    }
  }

  @Test
  void anUnknownHostIsAConfigurationError() {
    assertThatThrownBy(
            () ->
                MetricsServer.start(
                    MetricsAddress.parse("no-such-host.invalid:0"),
                    "publish",
                    List.of(),
                    new Readiness()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("is unknown");
  }
}
