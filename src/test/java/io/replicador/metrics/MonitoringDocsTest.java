package io.replicador.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docs/monitoring.md, its alert rules and its dashboard against the meters the code registers; and
 * the rules and meter names through promtool where it is installed (Debian's prometheus package).
 */
class MonitoringDocsTest {
  private static final Path DOCS = Path.of("docs");
  private static final Pattern NAME = Pattern.compile("replicador_[a-z_]+");
  private static String scrape;

  @BeforeAll
  static void scrapeEveryMeter() {
    Readiness readiness = new Readiness();
    try (MetricsServer server =
        MetricsServer.start(MetricsAddress.parse("127.0.0.1:0"), "publish", List.of(), readiness)) {
      PublisherMetrics p = new PublisherMetrics(server.registry());
      p.shipped(1, 2);
      p.backlog(() -> new PublisherMetrics.Backlog(1, 1, 0.5));
      p.slotRetainedWal("replicador", () -> 1.0);
      ListenerMetrics l = new ListenerMetrics(server.registry(), "r1", readiness);
      l.appliedChanges("public.t", 1);
      l.position("source", 1);
      new SnapshotMetrics(
          server.registry(),
          "r1",
          () -> List.of(new SnapshotMetrics.Table("public.t", "done", 1, 1)));
      scrape = server.registry().scrape();
    }
  }

  private static Set<String> registered() {
    Set<String> names = new TreeSet<>();
    Matcher m = Pattern.compile("(?m)^# TYPE (replicador_[a-z_]+) ").matcher(scrape);
    while (m.find()) {
      names.add(m.group(1).replaceFirst("_max$", ""));
    }
    return names;
  }

  private static Set<String> named(String file) throws IOException {
    Set<String> names = new TreeSet<>();
    Matcher m = NAME.matcher(Files.readString(DOCS.resolve(file)));
    while (m.find()) {
      names.add(m.group().replaceFirst("_(bucket|count|sum)$", ""));
    }
    return names;
  }

  @Test
  void theDocumentNamesEveryMeterAndNoOther() throws IOException {
    assertThat(registered()).isNotEmpty();
    Set<String> documented = named("monitoring.md");
    assertThat(documented).containsAll(registered());
    assertThat(registered()).containsAll(documented);
  }

  @Test
  void alertRulesAndDashboardUseOnlyMetersThatExist() throws IOException {
    assertThat(registered()).containsAll(named("replicador-alerts.yml"));
    assertThat(registered()).containsAll(named("grafana-dashboard.json"));
    assertThat(named("replicador-alerts.yml"))
        .contains(
            "replicador_listener_lag_seconds",
            "replicador_listener_halted",
            "replicador_publisher_backlog_oldest_age_seconds",
            "replicador_listener_dead_letters_total",
            "replicador_slot_retained_wal_bytes");
  }

  @Test
  void alertRulesPassPromtool() throws Exception {
    String out = promtool("check", "rules", DOCS.resolve("replicador-alerts.yml").toString());
    assertThat(out).contains("SUCCESS");
  }

  @Test
  void meterNamesPassPromtoolsLint() throws Exception {
    // promtool also lints Micrometer's own JVM and process names (process_cpu_time_ns_total,
    // system_cpu_count); only ours are held to it here
    Path file = Files.createTempFile("replicador-scrape", ".txt");
    try {
      Files.writeString(file, scrape);
      ProcessBuilder b = promtoolCommand("check", "metrics").redirectInput(file.toFile());
      String out = run(b, true);
      assertThat(out.lines().filter(line -> line.contains("replicador_"))).isEmpty();
    } finally {
      Files.delete(file);
    }
  }

  private static String promtool(String... args) throws Exception {
    return run(promtoolCommand(args), false);
  }

  private static ProcessBuilder promtoolCommand(String... args) {
    String promtool = which("promtool");
    assumeTrue(
        promtool != null,
        "promtool is not installed (Debian: apt-get install prometheus); the alert rules and"
            + " meter names are not checked");
    List<String> command = new java.util.ArrayList<>(List.of(promtool));
    command.addAll(List.of(args));
    return new ProcessBuilder(command).redirectErrorStream(true);
  }

  private static String run(ProcessBuilder b, boolean anyStatus) throws Exception {
    Process p = b.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    if (!anyStatus) {
      assertThat(p.exitValue()).as(out).isZero();
    }
    return out;
  }

  private static String which(String program) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path candidate = Path.of(dir, program);
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    return null;
  }
}
