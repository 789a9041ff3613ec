package io.replicador.cli;

import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.snapshot.SnapshotSettings;
import io.replicador.snapshot.Snapshotter;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "snapshot",
    description =
        "Copy the primary's tables to a replica while the primary keeps taking writes; then run"
            + " 'listen --name NAME' to continue from there.")
final class SnapshotCommand implements Callable<Integer> {
  @Mixin Main.CommonOptions common;

  @Mixin ReplicaQueueOptions queue;

  @Option(names = "--primary", paramLabel = "URL", description = "The primary database.")
  String primary;

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
            PostgresAddress.parse("primary", primary),
            PostgresAddress.parse("replica", replica),
            queue.broker(),
            queue.exchange,
            name,
            queue.queueType(),
            selection.named(),
            jobs);
    Snapshotter.Result result =
        new Snapshotter(settings, Clock.systemUTC()).run(System.err, System.console() != null);
    System.out.println(
        "Snapshot complete: " + result.copied() + " table(s) copied (" + result.rows() + " rows)"
            + (result.skipped() > 0 ? ", " + result.skipped() + " already copied earlier" : "")
            + (result.created().isEmpty()
                ? ""
                : ", created "
                    + result.created().stream().map(TableName::toString)
                        .collect(Collectors.joining(", ")))
            + ". Changes since wait in queue replicador." + name + "; now run: replicador listen"
            + " --name " + name + (tables == null ? "" : " --tables " + tables));
    return 0;
  }
}
