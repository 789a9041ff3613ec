package io.replicador.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.testing.CliRun;
import org.junit.jupiter.api.Test;

/** A malformed stream setting ends the command at once: one line naming the flag, exit 2. */
class StreamOptionsTest {
  @Test
  void publishRefusesAMalformedMaxAge() {
    CliRun run =
        CliRun.of(
            "publish",
            "--primary",
            "postgresql://postgres@127.0.0.1:1/db",
            "--amqp",
            "amqp://guest:guest@127.0.0.1:1/",
            "--queue-type",
            "stream",
            "--stream-max-age",
            "7 days");

    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err()).contains("--stream-max-age is '7 days'").hasLineCount(1);
  }

  @Test
  void listenRefusesMalformedBytes() {
    CliRun run =
        CliRun.of(
            "listen",
            "--replica",
            "postgresql://postgres@127.0.0.1:1/db",
            "--amqp",
            "amqp://guest:guest@127.0.0.1:1/",
            "--name",
            "r1",
            "--queue-type",
            "stream",
            "--stream-segment-bytes",
            "huge");

    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err()).contains("--stream-segment-bytes is 'huge'").hasLineCount(1);
  }

  @Test
  void anUnknownQueueTypeNamesTheThree() {
    CliRun run =
        CliRun.of(
            "listen",
            "--replica",
            "postgresql://postgres@127.0.0.1:1/db",
            "--name",
            "r1",
            "--queue-type",
            "river");

    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err()).contains("use quorum, classic or stream").hasLineCount(1);
  }

  @Test
  void aStreamSettingWithoutTheStreamIsRefusedNotIgnored() {
    CliRun run =
        CliRun.of(
            "listen",
            "--replica",
            "postgresql://postgres@127.0.0.1:1/db",
            "--amqp",
            "amqp://guest:guest@127.0.0.1:1/",
            "--name",
            "r1",
            "--stream-max-age",
            "1D");

    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err())
        .contains("--stream-max-age applies only to --queue-type stream")
        .hasLineCount(1);
  }
}
