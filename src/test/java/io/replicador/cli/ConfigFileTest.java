package io.replicador.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.testing.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The keys a {@code --config} file may hold, checked before anything runs. */
class ConfigFileTest {
  @TempDir Path dir;

  private Path config(String yaml) throws Exception {
    Path file = dir.resolve("replicador.yaml");
    Files.writeString(file, yaml);
    return file;
  }

  @Test
  void aMisspeltKeyIsAnErrorNamingKeyFileAndSuggestion() throws Exception {
    Path file = config("primary: postgresql://h/db\nbatch_rows: 500\n");

    CliRun run = CliRun.of("publish", "--config", file.toString());

    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err())
        .startsWith(
            "replicador: Config file "
                + file
                + ": unknown key 'batch_rows'"
                + " (did you mean 'batch-rows'?)")
        .hasLineCount(1);
  }

  @Test
  void aKeyOfAnotherCommandIsAcceptedSoOneFileServesThemAll() throws Exception {
    Path file =
        config(
            "primary: postgresql://h/db\nreplica: postgresql://r/db\nname: r1\njobs: 2\n"
                + "amqp: amqp://h/\ntables: [public.t]\n");

    CliRun run = CliRun.of("install", "--config", file.toString(), "--help");

    assertThat(run.status()).isZero();
    assertThat(run.err()).isEmpty();
  }

  @Test
  void theKnownKeysAreEveryCommandsLongOptions() {
    assertThat(Main.settingNames(new CommandLine(new Main())))
        .contains(
            "primary",
            "replica",
            "amqp",
            "jobs",
            "prefetch",
            "batch-rows",
            "queue-type",
            "notify-channel",
            "wait-caught-up",
            "allow-replica-triggers",
            "seconds")
        .doesNotContain("--primary", "primary ");
  }
}
