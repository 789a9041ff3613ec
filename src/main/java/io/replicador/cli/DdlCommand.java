package io.replicador.cli;

import io.replicador.capture.DdlRecorder;
import io.replicador.capture.DdlStatement;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "ddl",
    description =
        "Run a schema change (ALTER TABLE, CREATE TABLE, DROP TABLE, CREATE INDEX) on the primary"
            + " and record it in the change stream in the same transaction, so that every replica"
            + " runs it at that point.")
final class DdlCommand implements Callable<Integer> {
  @Mixin Main.CommonOptions common;

  @Mixin PrimaryOption primary;

  @Parameters(
      arity = "0..1",
      paramLabel = "STATEMENT",
      description = "The statement (or give --file).")
  String statement;

  @Option(names = "--file", paramLabel = "F", description = "Read the statement from file F.")
  Path file;

  @Option(
      names = "--wait",
      paramLabel = "SECONDS",
      defaultValue = "60",
      description =
          "With trigger capture, wait up to SECONDS for the publisher to ship the table's changes"
              + " captured before the statement (default: ${DEFAULT-VALUE}).")
  long waitSeconds;

  @Override
  public Integer call() throws Exception {
    PostgresAddress address = primary.address();
    if (waitSeconds < 0) {
      throw new ConfigException("--wait must be 0 or more seconds, not " + waitSeconds);
    }
    String sql = sql();
    DdlStatement.classify(sql); // refused before connecting, as well as by the recorder
    try (Connection c = address.connect("replicador-ddl");
        Connection marks = address.connect("replicador-ddl-marks")) {
      DdlRecorder.Recorded r = new DdlRecorder(c, marks, Duration.ofSeconds(waitSeconds)).run(sql);
      System.out.println(
          "Ran and recorded "
              + r.statement().kind().name().replace('_', ' ')
              + " on "
              + r.table()
              + (r.captured() == null ? "" : "; capturing " + r.captured())
              + "; replicas apply it in order with the changes around it");
    }
    return 0;
  }

  private String sql() {
    if ((statement == null) == (file == null)) {
      throw new ConfigException("Give the statement either as an argument or with --file F");
    }
    if (statement != null) {
      return statement;
    }
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException("--file " + file + " does not exist; check the path");
    } catch (IOException e) {
      throw new ConfigException("--file " + file + " cannot be read: " + e.getMessage());
    }
  }
}
