package io.replicador.cli;

import io.replicador.capture.CaptureInstaller;
import io.replicador.capture.DdlEventTriggers;
import io.replicador.capture.WalCaptureInstaller;
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
    description =
        "Install change capture for tables on the primary: triggers and a changelog, or a"
            + " logical replication slot (--capture wal).")
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

  @Option(
      names = "--capture",
      paramLabel = "SOURCE",
      description =
          "Where changes are captured: 'trigger' (a changelog written by triggers; works"
              + " everywhere) or 'wal' (a logical replication slot; needs wal_level=logical and the"
              + " REPLICATION attribute, costs the writers least). Default: what the primary uses"
              + " now, else trigger. Naming the other one moves every captured table over.")
  String capture;

  @Option(
      names = "--ddl",
      paramLabel = "MODE",
      description =
          "'auto': also record schema changes of captured tables made without 'replicador ddl'"
              + " (event triggers; needs a superuser, else install says so and goes on);"
              + " 'manual': only those made with 'replicador ddl'. Default: as installed before.")
  String ddl;

  @ArgGroup(exclusive = false, multiplicity = "0..1")
  TableSelection selection = new TableSelection();

  @Override
  public Integer call() throws Exception {
    PostgresAddress address = primary.address();
    if (selection.isEmpty()) {
      throw new ConfigException("Name the tables to capture with --tables S.T,... or --schema S");
    }
    if (capture != null && !capture.equals("trigger") && !capture.equals("wal")) {
      throw new ConfigException("--capture must be 'trigger' or 'wal', not '" + capture + "'");
    }
    if (ddl != null && !ddl.equals("auto") && !ddl.equals("manual")) {
      throw new ConfigException("--ddl must be 'auto' or 'manual', not '" + ddl + "'");
    }
    if ("wal".equals(capture) && replaceTrigger != null) {
      throw new ConfigException(
          "--replace-trigger moves the origin design to trigger capture; install with --capture"
              + " trigger first, then move to the slot with --capture wal");
    }
    try (Connection c = address.connect("replicador-install")) {
      List<TableName> tables = selection.resolve(c);
      List<TableName> installed;
      String source = capture != null ? capture : CaptureInstaller.currentCapture(c);
      if (source.equals("wal")) {
        installed = new WalCaptureInstaller(c).install(tables);
      } else if (replaceTrigger == null) {
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
          "Capture ("
              + source
              + ") installed on "
              + address
              + " for "
              + installed.size()
              + " table(s): "
              + installed.stream().map(TableName::toString).collect(Collectors.joining(", "))
              + (replaceTrigger == null ? "" : "; dropped trigger " + replaceTrigger + " on each"));
      if ("auto".equals(ddl)) {
        System.out.println(
            DdlEventTriggers.install(c)
                ? "Schema changes of captured tables are recorded for the replicas (event"
                    + " triggers)"
                : "Schema changes are recorded only with 'replicador ddl': event triggers need a"
                    + " superuser, which "
                    + address
                    + " does not connect as");
      } else if ("manual".equals(ddl)) {
        DdlEventTriggers.remove(c);
      }
    }
    return 0;
  }
}
