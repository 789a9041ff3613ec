package io.replicador;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.SQLException;
import org.junit.jupiter.api.Test;

class FailuresTest {

  @Test
  void aRefusedLoginSaysWhereThePasswordGoesInOneLine() {
    String line =
        Failures.describe(
            new IllegalStateException(
                null,
                new SQLException(
                    "FATAL: password authentication failed for user \"app\"\n  Detail", "28P01")));

    assertThat(line)
        .isEqualTo(
            "FATAL: password authentication failed for user \"app\" [SQLSTATE 28P01]; give the"
                + " user's password in PGPASSWORD, in ~/.pgpass, or in the address in the"
                + " --config file")
        .doesNotContain("\n");
    assertThat(Failures.describe(new SQLException("FATAL: role \"x\" does not exist", "28000")))
        .contains("PGPASSWORD");
  }

  @Test
  void otherDatabaseFailuresGetNoPasswordHint() {
    assertThat(Failures.describe(new SQLException("Connection to h:1 refused.", "08001")))
        .isEqualTo("Connection to h:1 refused. [SQLSTATE 08001]");
    assertThat(Failures.isAuthenticationFailure(new SQLException("x", "08001"))).isFalse();
    assertThat(Failures.isAuthenticationFailure(new SQLException("x", "28P01"))).isTrue();
  }

  @Test
  void pgjdbcsRefusalForAMissingPasswordIsSaidPlainlyWithTheHint() {
    String line =
        Failures.describe(
            new SQLException(
                "The server requested SCRAM-based authentication, but the password is an empty"
                    + " string.",
                "08004"));

    assertThat(line)
        .startsWith("The server asks for a password and none was given [SQLSTATE 08004]; give")
        .contains("PGPASSWORD");
    assertThat(Failures.describe(new SQLException("The server does not support SSL.", "08004")))
        .isEqualTo("The server does not support SSL. [SQLSTATE 08004]");
  }
}
