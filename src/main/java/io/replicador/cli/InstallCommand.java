package io.replicador.cli;

import io.replicador.capture.CaptureInstaller;
import io.replicador.change.TableName;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import java.sql.Connection;
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

  @Option(names = "--primary", paramLabel = "URL", description = "The primary database.")
  String primary;

  @ArgGroup(exclusive = false, multiplicity = "0..1")
  TableSelection selection = new TableSelection();

  @Override
  public Integer call() throws Exception {
    PostgresAddress address = PostgresAddress.parse("primary", primary);
    if (selection.isEmpty()) {
      throw new ConfigException("Name the tables to capture with --tables S.T,... or --schema S");
    }
    try (Connection c = address.connect("replicador-install")) {
      List<TableName> tables = selection.resolve(c);
      List<TableName> installed = new CaptureInstaller(c).install(tables);
      System.out.println(
          "Capture installed on " + address + " for " + installed.size() + " table(s): "
              + installed.stream().map(TableName::toString).collect(Collectors.joining(", ")));
    }
    return 0;
  }
}
