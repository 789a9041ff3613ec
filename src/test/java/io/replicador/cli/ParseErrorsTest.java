package io.replicador.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.testing.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A command line that does not parse: two lines on stderr, exit 2, and no password shown. */
class ParseErrorsTest {
  private static final String URI = "postgresql://postgres:TopSecret1@host/db";

  @TempDir Path dir;

  private static CliRun failing(String... args) {
    CliRun run = CliRun.of(args);
    assertThat(run.status()).isEqualTo(Main.EXIT_ERROR);
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).doesNotContain("TopSecret1").hasLineCount(2);
    return run;
  }

  @Test
  void mistypedOptionIsNamedWithoutItsValue() {
    CliRun run = failing("install", "--primry", URI, "--tables", "public.t");

    assertThat(run.err())
        .isEqualTo(
            "replicador: Unknown option '--primry'; did you mean '--primary'?\n"
                + "see 'replicador install --help'\n");
  }

  @Test
  void mistypedOptionWithEqualsSignShowsTheNameOnly() {
    CliRun run = failing("listen", "--replca=" + URI);

    assertThat(run.err())
        .startsWith("replicador: Unknown option '--replca'; did you mean '--replica'?\n")
        .doesNotContain("host/db");
  }

  @Test
  void noValueAfterAnUnknownOptionIsShownEvenWithoutPassword() {
    CliRun run = failing("publish", "--batch-size", "5000", "--primry", "postgresql://h/secretdb");

    assertThat(run.err())
        .startsWith("replicador: Unknown options '--batch-size', '--primry'")
        .doesNotContain("5000")
        .doesNotContain("secretdb");
  }

  @Test
  void strayArgumentIsShownUnlessItHoldsAPassword() {
    assertThat(failing("install", "extra").err())
        .startsWith("replicador: Unexpected argument 'extra'");
    assertThat(failing("install", URI).err())
        .startsWith("replicador: Unexpected argument (a value holding a password, not shown)");
  }

  @Test
  void mistypedCommandGetsASuggestion() {
    CliRun run = failing("instal", "--primary", URI);

    assertThat(run.err())
        .isEqualTo(
            "replicador: Unknown command 'instal'; did you mean 'install'?\n"
                + "see 'replicador --help'\n");
  }

  @Test
  void invalidValueOfAKnownOptionHidesAPassword() {
    CliRun run = failing("snapshot", "--jobs", URI);

    assertThat(run.err()).startsWith("replicador: ").contains("--jobs").contains("***");
  }

  @Test
  void missingValueAndMissingCommandSayWhatIsMissing() {
    assertThat(failing("install", "--primary").err())
        .startsWith("replicador: ")
        .contains("--primary")
        .endsWith("see 'replicador install --help'\n");
    assertThat(failing().err())
        .isEqualTo("replicador: Name a subcommand\nsee 'replicador --help'\n");
  }

  @Test
  void aBadSettingInTheConfigFileIsReportedAsItself() throws Exception {
    Path file = dir.resolve("replicador.yaml");
    Files.writeString(file, "queue-type:\n  kind: quorum\n");

    CliRun run = failing("listen", "--config", file.toString(), "--replica", URI);

    assertThat(run.err())
        .isEqualTo(
            "replicador: Config file "
                + file
                + ": key 'queue-type' must be a value or a list\n"
                + "see 'replicador listen --help'\n");
  }
}
