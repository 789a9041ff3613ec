package io.replicador.cli;

import io.micrometer.core.instrument.Tag;
import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.config.Secrets;
import io.replicador.metrics.LogFormat;
import io.replicador.metrics.MetricsServer;
import io.replicador.metrics.Readiness;
import io.replicador.metrics.SnapshotMetrics;
import io.replicador.snapshot.SnapshotSettings;
import io.replicador.snapshot.Snapshotter;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

@Command(
    name = "snapshot",
    description =
        "Copy the primary's tables to a replica while the primary keeps taking writes; then run"
            + " the 'listen' command it prints, with the same replica and name, to continue from"
            + " there.")
final class SnapshotCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin Main.CommonOptions common;

  @Mixin ReplicaQueueOptions queue;

  @Mixin PrimaryOption primary;

  @Option(names = "--replica", paramLabel = "URL", description = "The replica database.")
  String replica;

  @Option(
      names = "--tables",
      paramLabel = "S.T[,S.T...]",
      description = "Copy only these tables (default: every table captured on the primary).")
  String tables;

  @Option(
      names = "--jobs",
      paramLabel = "N",
      defaultValue = "4",
      description = "Tables copied in parallel (default: ${DEFAULT-VALUE}).")
  int jobs;

  @Option(
      names = "--foreign-keys",
      description =
          "Give the tables the snapshot creates the primary's foreign keys too, once every table"
              + " is copied (default: left out, so that replica tables can be filled in any"
              + " order).")
  boolean foreignKeys;

  @Mixin MetricsOption metrics;

  @Override
  public Integer call() throws Exception {
    String name = queue.name();
    if (jobs < 1) {
      throw new ConfigException("--jobs must be at least 1, got " + jobs);
    }
    TableSelection selection = new TableSelection();
    selection.tables = tables;
    SnapshotSettings settings =
        new SnapshotSettings(
            primary.address(),
            PostgresAddress.parse("replica", replica),
            queue.broker(),
            queue.exchange,
            name,
            queue.queueType(),
            selection.named(),
            jobs,
            foreignKeys,
            queue.retention());
    metrics.address(); // a wrong --metrics is refused before anything starts
    ProcessLog.starting(
        "snapshot",
        "replica "
            + name
            + " on "
            + settings.replica()
            + ", primary "
            + settings.primary()
            + ", broker "
            + settings.broker()
            + ", exchange '"
            + settings.exchange()
            + "', queue-type "
            + settings.queueType().argument()
            + ", tables "
            + (settings.tables().isEmpty() ? "all captured" : settings.tables())
            + ", jobs "
            + jobs
            + (foreignKeys ? ", foreign-keys" : "")
            + ", metrics "
            + (metrics.address() == null ? "off" : metrics.address()));
    Snapshotter snapshotter = new Snapshotter(settings, Clock.systemUTC());
    Snapshotter.Result result;
    try (MetricsServer server =
        metrics.start("snapshot", List.of(Tag.of("replica", name)), new Readiness())) {
      if (server != null) {
        new SnapshotMetrics(
            server.registry(),
            name,
            () ->
                snapshotter.progress().stream()
                    .map(
                        p ->
                            new SnapshotMetrics.Table(
                                p.table().schema() + "." + p.table().name(),
                                p.state().name().toLowerCase(Locale.ROOT),
                                p.rows(),
                                p.bytes()))
                    .toList());
      }
      // with JSON logs, standard error holds only JSON lines: progress lines become log lines
      boolean json = LogFormat.parse(common.logFormat) == LogFormat.JSON;
      result = snapshotter.run(json ? logLines() : System.err, !json && System.console() != null);
    }
    System.out.println(
        "Snapshot complete: "
            + result.copied()
            + " table(s) copied ("
            + result.rows()
            + " rows)"
            + (result.skipped() > 0 ? ", " + result.skipped() + " already copied earlier" : "")
            + (result.created().isEmpty()
                ? ""
                : ", created "
                    + result.created().stream()
                        .map(TableName::toString)
                        .collect(Collectors.joining(", ")))
            + ". Changes since wait in queue replicador."
            + name
            + "; to apply them, run:");
    ParseResult parsed = spec.commandLine().getParseResult();
    Map<String, String> given = new LinkedHashMap<>();
    for (String option : REPEATED_FOR_LISTEN) {
      if (parsed.hasMatchedOption(option)) {
        // as typed: some options are paths
        List<String> values = parsed.matchedOption(option).stringValues();
        given.put(option, values.isEmpty() ? null : values.get(values.size() - 1));
      }
    }
    System.out.print(listenCommand(name, given));
    return 0;
  }

  /** A stream whose lines are logged at INFO, one log line each. */
  private static PrintStream logLines() {
    Logger log = LoggerFactory.getLogger(SnapshotCommand.class);
    OutputStream lines =
        new OutputStream() {
          private final ByteArrayOutputStream line = new ByteArrayOutputStream();

          @Override
          public synchronized void write(int b) {
            if (b == '\n') {
              log.info("{}", line.toString(StandardCharsets.UTF_8));
              line.reset();
            } else {
              line.write(b);
            }
          }
        };
    return new PrintStream(lines, true, StandardCharsets.UTF_8);
  }

  /**
   * The options of this command that {@code listen} needs again, when given on the command line;
   * those from the environment or the config file reach listen the same way.
   */
  private static final List<String> REPEATED_FOR_LISTEN =
      List.of(
          "--config",
          "--replica",
          "--amqp",
          "--amqp-ca",
          "--amqp-cert",
          "--amqp-key",
          "--exchange",
          "--queue-type",
          "--tables");

  /**
   * The {@code listen} command that carries on from this snapshot, on its own line, so that it runs
   * as printed: shell-quoted, and without passwords (a line after it says where they go). A broker
   * address with a password is left out whole, since a flag would override the environment variable
   * that can hold it.
   *
   * @param given options given on the command line, by name, in order
   */
  static String listenCommand(String name, Map<String, String> given) {
    StringBuilder command = new StringBuilder("  replicador listen");
    List<String> notes = new ArrayList<>();
    for (String option : REPEATED_FOR_LISTEN) {
      String value = given.get(option);
      if (option.equals("--amqp") && value != null && Secrets.holdsPassword(value)) {
        notes.add("set REPLICADOR_AMQP to the broker's address, with its password");
        value = null;
      }
      if (option.equals("--replica") && value != null && Secrets.holdsPassword(value)) {
        notes.add("give the replica's password in PGPASSWORD, ~/.pgpass or the --config file");
        value = Secrets.withoutPassword(value);
      }
      if (value != null) {
        command.append(' ').append(option).append(' ').append(shellWord(value));
      }
      if (option.equals("--replica")) {
        command.append(" --name ").append(shellWord(name));
      }
    }
    StringBuilder out = new StringBuilder(command).append('\n');
    for (String note : notes) {
      out.append("  (").append(note).append(")\n");
    }
    return out.toString();
  }

  /** The value as one POSIX shell word: as it is when safe, else in single quotes. */
  static String shellWord(String value) {
    if (!value.isEmpty() && value.matches("[A-Za-z0-9_@%+=:,./-]+")) {
      return value;
    }
    return "'" + value.replace("'", "'\\''") + "'";
  }
}
