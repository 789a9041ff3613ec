package io.replicador.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PostgresAddressTest {

  @Test
  void libpqUriWithUserPasswordPortAndDatabase() {
    PostgresAddress a = PostgresAddress.parse("primary", "postgresql://app:s3cret@db.example:6543/shop");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://db.example:6543/shop");
    assertThat(a.database()).isEqualTo("shop");
    assertThat(a).hasToString("postgresql://app@db.example:6543/shop");
  }

  @Test
  void shortPostgresSchemeIsAccepted() {
    PostgresAddress a = PostgresAddress.parse("replica", "postgres://u@h/d");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://h/d");
    assertThat(a).hasToString("postgresql://u@h/d");
  }

  @Test
  void queryParametersStayOutOfUrlAndToString() {
    PostgresAddress a =
        PostgresAddress.parse(
            "primary",
            "postgresql://app@h:5432/db?sslmode=require&application_name=my%20app"
                + "&password=fromQuery");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://h:5432/db");
    assertThat(a.toString()).doesNotContain("fromQuery").doesNotContain("sslmode");
  }

  @Test
  void percentEncodedCredentialsAreDecodedAndPlusStaysPlus() {
    PostgresAddress a = PostgresAddress.parse("primary", "postgresql://us%40er:p%2Fa+ss%3A@h/db");

    assertThat(a).hasToString("postgresql://us@er@h/db");
    assertThat(a.toString()).doesNotContain("p/a+ss:").doesNotContain("p%2Fa");
  }

  @Test
  void passwordContainingAtSignIsSplitAtTheLastAt() {
    PostgresAddress a = PostgresAddress.parse("primary", "postgresql://u:p@ss@host/db");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://host/db");
    assertThat(a).hasToString("postgresql://u@host/db");
  }

  @Test
  void toStringNeverShowsThePassword() {
    String[] inputs = {
      "postgresql://app:TopSecret@h/db",
      "postgresql://app:TopSecret@h/db?sslmode=disable",
      "postgresql://h/db?user=app&password=TopSecret",
      "jdbc:postgresql://h:5432/db?user=app&password=TopSecret",
      "postgresql://:TopSecret@h/db",
    };
    for (String input : inputs) {
      PostgresAddress a = PostgresAddress.parse("primary", input);
      assertThat(a.toString()).as(input).doesNotContain("TopSecret");
      assertThat(a.jdbcUrl()).as(input).doesNotContain("TopSecret");
    }
  }

  @Test
  void userFromQueryParameterIsShown() {
    assertThat(PostgresAddress.parse("primary", "jdbc:postgresql://h/db?user=app&password=x"))
        .hasToString("postgresql://app@h/db");
  }

  @Test
  void jdbcUrlKeepsHostPortAndDatabase() {
    PostgresAddress a =
        PostgresAddress.parse("replica", "jdbc:postgresql://r1:5433/copy?sslmode=verify-full");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://r1:5433/copy");
    assertThat(a.database()).isEqualTo("copy");
  }

  @Test
  void jdbcUrlWithoutHostMeansLocalhost() {
    PostgresAddress a = PostgresAddress.parse("replica", "jdbc:postgresql:copy");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://localhost/copy");
    assertThat(a.database()).isEqualTo("copy");
  }

  @Test
  void missingHostOrDatabaseGetDefaults() {
    assertThat(PostgresAddress.parse("primary", "postgresql:///db").jdbcUrl())
        .isEqualTo("jdbc:postgresql://localhost/db");
    PostgresAddress hostOnly = PostgresAddress.parse("primary", "postgresql://h:5432");
    assertThat(hostOnly.jdbcUrl()).isEqualTo("jdbc:postgresql://h:5432/");
    assertThat(hostOnly.database()).isEmpty();
    assertThat(PostgresAddress.parse("primary", "postgresql://").jdbcUrl())
        .isEqualTo("jdbc:postgresql://localhost/");
  }

  @Test
  void jdbcUrlWithCredentialsBeforeHostIsRejectedWithoutShowingPassword() {
    // pgjdbc takes user and password as parameters only; a libpq-style user:password@ in a
    // JDBC URL used to end up verbatim in toString and the JDBC URL
    assertThatThrownBy(() -> PostgresAddress.parse("primary", "jdbc:postgresql://app:TopSecret@h/db"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("primary")
        .hasMessageContaining("jdbc:postgresql://app:***@h/db")
        .hasMessageContaining("?user=")
        .message()
        .doesNotContain("TopSecret");
  }

  @Test
  void surroundingWhitespaceIsIgnored() {
    assertThat(PostgresAddress.parse("primary", "  postgresql://u@h/db \n").jdbcUrl())
        .isEqualTo("jdbc:postgresql://h/db");
  }

  @Test
  void missingAddressNamesRoleAndEnvironmentVariable() {
    assertThatThrownBy(() -> PostgresAddress.parse("replica", " "))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("replica")
        .hasMessageContaining("--replica")
        .hasMessageContaining("REPLICADOR_REPLICA");
    assertThatThrownBy(() -> PostgresAddress.parse("primary", null))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("--primary");
  }

  @Test
  void otherSchemeIsRejectedNamingRoleWithoutLeakingPassword() {
    assertThatThrownBy(() -> PostgresAddress.parse("primary", "mysql://u:TopSecret@h/db"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("primary")
        .hasMessageContaining("mysql://u:***@h/db")
        .hasMessageContaining("postgresql://")
        .message()
        .doesNotContain("TopSecret");
    assertThatThrownBy(
            () -> PostgresAddress.parse("replica", "host=h password=TopSecret dbname=db"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("replica")
        .message()
        .doesNotContain("TopSecret");
  }

  @Test
  void malformedPercentEscapeIsAConfigExceptionNamingRole() {
    assertThatThrownBy(() -> PostgresAddress.parse("primary", "postgresql://u:Top%zzSecret@h/db"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("primary")
        .message()
        .doesNotContain("Secret");
    assertThatThrownBy(() -> PostgresAddress.parse("replica", "postgresql://h/db?sslmode=%"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("replica");
  }
}
