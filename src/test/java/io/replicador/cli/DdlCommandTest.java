package io.replicador.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.testing.CliRun;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ddl refuses bad input with one line and exit status 2, before it connects to anything. */
class DdlCommandTest {
  /** Nothing listens there: a test that reached the server would fail differently. */
  private static final String PRIMARY = "postgresql://nobody@127.0.0.1:1/db";

  @Test
  void wantsAStatementOrAFileButNotBoth(@TempDir Path dir) {
    CliRun none = CliRun.of("ddl", "--primary", PRIMARY);
    assertThat(none.status()).isEqualTo(2);
    assertThat(none.err())
        .contains("Give the statement either as an argument or with --file F")
        .hasLineCount(1);
    CliRun both =
        CliRun.of(
            "ddl",
            "--primary",
            PRIMARY,
            "--file",
            dir.resolve("x.sql").toString(),
            "ALTER TABLE t");
    assertThat(both.status()).isEqualTo(2);
    assertThat(both.err()).contains("either as an argument or with --file");
  }

  @Test
  void namesAMissingFile(@TempDir Path dir) {
    CliRun run =
        CliRun.of("ddl", "--primary", PRIMARY, "--file", dir.resolve("absent.sql").toString());
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err()).contains("absent.sql does not exist").hasLineCount(1);
  }

  @Test
  void refusesAStatementItDoesNotRecordBeforeConnecting() {
    CliRun run = CliRun.of("ddl", "--primary", PRIMARY, "GRANT SELECT ON t TO x");
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err()).contains("GRANT is not a schema change ddl records").hasLineCount(1);
  }

  @Test
  void wantsTheWaitToBeZeroOrMore() {
    CliRun run = CliRun.of("ddl", "--primary", PRIMARY, "--wait", "-1", "ALTER TABLE t ADD c int");
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err()).contains("--wait must be 0 or more seconds");
  }
}
