package io.replicador.cli;

import io.replicador.capture.CaptureInstaller;
import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.store.PublisherFence;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "install",
    description = "Install change capture (changelog, triggers) for tables on the primary.")
final class InstallCommand implements Callable<Integer> {
  @Mixin Main.CommonOptions common;

  @Mixin PrimaryOption primary;

  @Option(
      names = "--replace-trigger",
      paramLabel = "NAME",
      description =
          "Drop this trigger (the origin design's NOTIFY trigger) on each table in the same"
              + " transaction that installs capture; see docs/origin-notify-mode.md.")
  String replaceTrigger;

  @ArgGroup(exclusive = false, multiplicity = "0..1")
  TableSelection selection = new TableSelection();

  @Override
  public Integer call() throws Exception {
    PostgresAddress address = primary.address();
    if (selection.isEmpty()) {
      throw new ConfigException("Name the tables to capture with --tables S.T,... or --schema S");
    }
    try (Connection c = address.connect("replicador-install")) {
      List<TableName> tables = selection.resolve(c);
      List<TableName> installed;
      if (replaceTrigger == null) {
        installed = new CaptureInstaller(c).install(tables);
      } else {
        // the fence needs a second connection: this one holds the lock while it waits
        try (Connection fenceConnection = address.connect("replicador-install-fence")) {
          installed =
              new CaptureInstaller(c)
                  .install(
                      tables,
                      replaceTrigger,
                      new PublisherFence(fenceConnection, Duration.ofSeconds(30)));
        }
      }
      System.out.println(
          "Capture installed on "
              + address
              + " for "
              + installed.size()
              + " table(s): "
              + installed.stream().map(TableName::toString).collect(Collectors.joining(", "))
              + (replaceTrigger == null ? "" : "; dropped trigger " + replaceTrigger + " on each"));
    }
    return 0;
  }
}
