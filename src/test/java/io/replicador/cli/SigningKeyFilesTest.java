package io.replicador.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.testing.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A signing key file that cannot serve stops publish and listen at once: one line, exit 2. */
class SigningKeyFilesTest {
  @TempDir Path dir;

  private static CliRun refused(String... args) {
    CliRun run = CliRun.of(args);
    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.err()).hasLineCount(1);
    return run;
  }

  @Test
  void publishRefusesAShortKeyWithoutShowingIt() throws Exception {
    Path key = dir.resolve("short.key");
    Files.writeString(key, "s3cr3t-but-short");
    CliRun run =
        refused(
            "publish",
            "--primary",
            "postgresql://postgres@127.0.0.1:1/db",
            "--amqp",
            "amqp://guest@127.0.0.1:1/",
            "--signing-key-file",
            key.toString());
    assertThat(run.err())
        .contains("Signing key file " + key + " holds 16 bytes, fewer than the 32")
        .doesNotContain("s3cr3t");
  }

  @Test
  void listenRefusesAMissingKeyFile() {
    Path key = dir.resolve("missing.key");
    CliRun run =
        refused(
            "listen",
            "--replica",
            "postgresql://postgres@127.0.0.1:1/db",
            "--amqp",
            "amqp://guest@127.0.0.1:1/",
            "--name",
            "r1",
            "--signing-key-file",
            key + ",another");
    assertThat(run.err()).contains("Signing key file " + key + " cannot be read");
  }

  @Test
  void listenRefusesTheSameKeyTwice() throws Exception {
    Path a = dir.resolve("a.key");
    Path b = dir.resolve("b.key");
    Files.writeString(a, "0123456789abcdef0123456789abcdef\n");
    Files.writeString(b, "0123456789abcdef0123456789abcdef");
    for (Path p : new Path[] {a, b}) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
    }
    CliRun run =
        refused(
            "listen",
            "--replica",
            "postgresql://postgres@127.0.0.1:1/db",
            "--amqp",
            "amqp://guest@127.0.0.1:1/",
            "--name",
            "r1",
            "--signing-key-file",
            a + "," + b);
    assertThat(run.err()).contains("holds the same key as an earlier file");
  }
}
