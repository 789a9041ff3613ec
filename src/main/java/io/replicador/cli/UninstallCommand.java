package io.replicador.cli;

import io.replicador.capture.CaptureInstaller;
import io.replicador.capture.WalCaptureInstaller;
import io.replicador.change.TableName;
import io.replicador.config.PostgresAddress;
import io.replicador.store.WalCaptureStore;
import java.sql.Connection;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "uninstall",
    description =
        "Remove change capture from tables (all captured tables when none are named); the"
            + " replicador schema goes when no table is left.")
final class UninstallCommand implements Callable<Integer> {
  @Mixin Main.CommonOptions common;

  @Mixin PrimaryOption primary;

  @ArgGroup(exclusive = false, multiplicity = "0..1")
  TableSelection selection = new TableSelection();

  @Option(
      names = "--discard-backlog",
      description = "Drop the changelog even if it holds changes not yet shipped (they are lost).")
  boolean discardBacklog;

  @Override
  public Integer call() throws Exception {
    PostgresAddress address = primary.address();
    try (Connection c = address.connect("replicador-uninstall")) {
      CaptureInstaller installer = new CaptureInstaller(c);
      List<TableName> tables =
          selection.isEmpty() ? installer.capturedTables() : selection.resolve(c);
      boolean dropped =
          new WalCaptureStore(c).find().isPresent()
              ? new WalCaptureInstaller(c).uninstall(tables)
              : installer.uninstall(tables, discardBacklog);
      System.out.println(
          "Capture removed from "
              + tables.size()
              + " table(s)"
              + (dropped ? "; schema replicador dropped" : ""));
    }
    return 0;
  }
}
