package io.replicador.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The listen command that snapshot prints last: it runs as printed and shows no password. */
class SnapshotCommandTest {

  private static Map<String, String> given(String... optionsAndValues) {
    Map<String, String> given = new LinkedHashMap<>();
    for (int i = 0; i < optionsAndValues.length; i += 2) {
      given.put(optionsAndValues[i], optionsAndValues[i + 1]);
    }
    return given;
  }

  @Test
  void repeatsTheReplicaAndNameAndWhatNamesTheQueue() {
    String hint =
        SnapshotCommand.listenCommand(
            "replica2",
            given(
                "--replica", "postgresql://postgres@127.0.0.1:5432/shop_replica2",
                "--amqp", "amqp://rabbit.example:5672/",
                "--exchange", "changes",
                "--queue-type", "classic"));

    assertThat(hint)
        .isEqualTo(
            "  replicador listen --replica postgresql://postgres@127.0.0.1:5432/shop_replica2"
                + " --name replica2 --amqp amqp://rabbit.example:5672/ --exchange changes"
                + " --queue-type classic\n");
  }

  @Test
  void optionsNotGivenOnTheCommandLineAreLeftToTheEnvironmentAndConfigFile() {
    assertThat(SnapshotCommand.listenCommand("r1", given("--config", "replicador.yaml")))
        .isEqualTo("  replicador listen --config replicador.yaml --name r1\n");
  }

  @Test
  void passwordsAreLeftOutAndTheNotesSayWhereTheyGo() {
    String hint =
        SnapshotCommand.listenCommand(
            "r1",
            given(
                "--replica", "postgresql://app:TopSecret@db/copy?sslmode=require",
                "--amqp", "amqp://guest:TopSecret@127.0.0.1:5672/",
                "--exchange", "replicador"));

    assertThat(hint)
        .doesNotContain("TopSecret")
        .doesNotContain("--amqp")
        .isEqualTo(
            "  replicador listen --replica 'postgresql://app@db/copy?sslmode=require' --name r1"
                + " --exchange replicador\n"
                + "  (give the replica's password in PGPASSWORD, ~/.pgpass or the --config"
                + " file)\n"
                + "  (set REPLICADOR_AMQP to the broker's address, with its password)\n");
  }

  @Test
  void tablesInSqlSpellingAreQuotedForTheShell() {
    assertThat(
            SnapshotCommand.listenCommand(
                "r1", given("--tables", "public.users,\"Sales Data\".\"Q1\",\"it's\"")))
        .isEqualTo(
            "  replicador listen --name r1 --tables"
                + " 'public.users,\"Sales Data\".\"Q1\",\"it'\\''s\"'\n");
    assertThat(SnapshotCommand.shellWord("")).isEqualTo("''");
    assertThat(SnapshotCommand.shellWord("a;b")).isEqualTo("'a;b'");
  }
}
