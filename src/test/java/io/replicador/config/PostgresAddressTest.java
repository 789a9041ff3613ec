package io.replicador.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PostgresAddressTest {
  @TempDir Path home;

  /** Parses with no PG* variables and a home without a password file: the real ones stay out. */
  private PostgresAddress parse(String role, String text) {
    return PostgresAddress.parse(role, text, Map.of("HOME", home.toString(), "PGUSER", "me"));
  }

  private PostgresAddress parse(String role, String text, Map<String, String> environment) {
    Map<String, String> env = new HashMap<>(Map.of("HOME", home.toString(), "PGUSER", "me"));
    env.putAll(environment);
    return PostgresAddress.parse(role, text, env);
  }

  @Test
  void libpqUriWithUserPasswordPortAndDatabase() {
    PostgresAddress a = parse("primary", "postgresql://app:s3cret@db.example:6543/shop");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://db.example:6543/shop");
    assertThat(a.database()).isEqualTo("shop");
    assertThat(a).hasToString("postgresql://app@db.example:6543/shop");
  }

  @Test
  void shortPostgresSchemeIsAccepted() {
    PostgresAddress a = parse("replica", "postgres://u@h/d");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://h/d");
    assertThat(a).hasToString("postgresql://u@h/d");
  }

  @Test
  void queryParametersStayOutOfUrlAndToString() {
    PostgresAddress a =
        parse(
            "primary",
            "postgresql://app@h:5432/db?sslmode=require&application_name=my%20app"
                + "&password=fromQuery");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://h:5432/db");
    assertThat(a.toString()).doesNotContain("fromQuery").doesNotContain("sslmode");
  }

  @Test
  void percentEncodedCredentialsAreDecodedAndPlusStaysPlus() {
    PostgresAddress a = parse("primary", "postgresql://us%40er:p%2Fa+ss%3A@h/db");

    assertThat(a).hasToString("postgresql://us@er@h/db");
    assertThat(a.toString()).doesNotContain("p/a+ss:").doesNotContain("p%2Fa");
  }

  @Test
  void passwordContainingAtSignIsSplitAtTheLastAt() {
    PostgresAddress a = parse("primary", "postgresql://u:p@ss@host/db");

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
      PostgresAddress a = parse("primary", input);
      assertThat(a.toString()).as(input).doesNotContain("TopSecret");
      assertThat(a.jdbcUrl()).as(input).doesNotContain("TopSecret");
    }
  }

  @Test
  void userFromQueryParameterIsShown() {
    assertThat(parse("primary", "jdbc:postgresql://h/db?user=app&password=x"))
        .hasToString("postgresql://app@h/db");
  }

  @Test
  void jdbcUrlKeepsHostPortAndDatabase() {
    PostgresAddress a = parse("replica", "jdbc:postgresql://r1:5433/copy?sslmode=verify-full");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://r1:5433/copy");
    assertThat(a.database()).isEqualTo("copy");
  }

  @Test
  void jdbcUrlWithoutHostMeansLocalhost() {
    PostgresAddress a = parse("replica", "jdbc:postgresql:copy");

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://localhost/copy");
    assertThat(a.database()).isEqualTo("copy");
  }

  @Test
  void missingHostOrDatabaseGetDefaults() {
    assertThat(parse("primary", "postgresql:///db").jdbcUrl())
        .isEqualTo("jdbc:postgresql://localhost/db");
    // libpq's default database is the user's name
    PostgresAddress hostOnly = parse("primary", "postgresql://h:5432");
    assertThat(hostOnly.jdbcUrl()).isEqualTo("jdbc:postgresql://h:5432/me");
    assertThat(hostOnly.database()).isEqualTo("me");
    assertThat(parse("primary", "postgresql://").jdbcUrl())
        .isEqualTo("jdbc:postgresql://localhost/me");
  }

  @Test
  void jdbcUrlWithCredentialsBeforeHostIsRejectedWithoutShowingPassword() {
    // pgjdbc takes user and password as parameters only; a libpq-style user:password@ in a
    // JDBC URL used to end up verbatim in toString and the JDBC URL
    assertThatThrownBy(() -> parse("primary", "jdbc:postgresql://app:TopSecret@h/db"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("primary")
        .hasMessageContaining("jdbc:postgresql://app:***@h/db")
        .hasMessageContaining("?user=")
        .message()
        .doesNotContain("TopSecret");
  }

  @Test
  void surroundingWhitespaceIsIgnored() {
    assertThat(parse("primary", "  postgresql://u@h/db \n").jdbcUrl())
        .isEqualTo("jdbc:postgresql://h/db");
  }

  @Test
  void missingAddressNamesRoleAndEnvironmentVariable() {
    assertThatThrownBy(() -> parse("replica", " "))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("replica")
        .hasMessageContaining("--replica")
        .hasMessageContaining("REPLICADOR_REPLICA");
    assertThatThrownBy(() -> parse("primary", null))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("--primary");
  }

  @Test
  void otherSchemeIsRejectedNamingRoleWithoutLeakingPassword() {
    assertThatThrownBy(() -> parse("primary", "mysql://u:TopSecret@h/db"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("primary")
        .hasMessageContaining("mysql://u:***@h/db")
        .hasMessageContaining("postgresql://")
        .message()
        .doesNotContain("TopSecret");
    assertThatThrownBy(() -> parse("replica", "host=h password=TopSecret dbname=db"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("replica")
        .message()
        .doesNotContain("TopSecret");
  }

  @Test
  void malformedPercentEscapeIsAConfigExceptionNamingRole() {
    assertThatThrownBy(() -> parse("primary", "postgresql://u:Top%zzSecret@h/db"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("primary")
        .message()
        .doesNotContain("Secret");
    assertThatThrownBy(() -> parse("replica", "postgresql://h/db?sslmode=%"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("replica");
  }

  private static final Map<String, String> LIBPQ_ENV =
      Map.of(
          "PGHOST", "envhost",
          "PGPORT", "6543",
          "PGUSER", "envuser",
          "PGDATABASE", "envdb",
          "PGSSLMODE", "require",
          "PGSSLROOTCERT", "/etc/ca.crt",
          "PGAPPNAME", "envapp");

  @Test
  void environmentFillsWhatTheAddressLeavesOut() {
    PostgresAddress a = parse("primary", "postgresql://", LIBPQ_ENV);

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://envhost:6543/envdb");
    assertThat(a).hasToString("postgresql://envuser@envhost:6543/envdb");
    assertThat(a.connectionProperties("replicador-test"))
        .containsEntry("user", "envuser")
        .containsEntry("sslmode", "require")
        .containsEntry("sslrootcert", "/etc/ca.crt")
        .containsEntry("ApplicationName", "envapp");
  }

  @Test
  void theAddressWinsOverTheEnvironmentPartByPart() {
    PostgresAddress full =
        parse(
            "primary",
            "postgresql://u@h:5432/db?sslmode=disable&sslrootcert=/ca&application_name=mine",
            LIBPQ_ENV);
    assertThat(full.jdbcUrl()).isEqualTo("jdbc:postgresql://h:5432/db");
    assertThat(full.connectionProperties("replicador-test"))
        .containsEntry("user", "u")
        .containsEntry("sslmode", "disable")
        .containsEntry("sslrootcert", "/ca")
        .containsEntry("ApplicationName", "mine");

    assertThat(parse("primary", "postgresql://h/db", LIBPQ_ENV).jdbcUrl())
        .isEqualTo("jdbc:postgresql://h:6543/db");
    assertThat(parse("primary", "postgresql://:5433/db", LIBPQ_ENV).jdbcUrl())
        .isEqualTo("jdbc:postgresql://envhost:5433/db");
    assertThat(parse("replica", "jdbc:postgresql:copy", LIBPQ_ENV).jdbcUrl())
        .isEqualTo("jdbc:postgresql://envhost:6543/copy");
  }

  @Test
  void withoutEnvironmentTheApplicationNameIsTheCallersAndTheUserTheSystemUser() {
    PostgresAddress a = PostgresAddress.parse("primary", "postgresql://h/db", Map.of());

    assertThat(a.connectionProperties("replicador-test"))
        .containsEntry("ApplicationName", "replicador-test")
        .containsEntry("user", System.getProperty("user.name"));
  }

  @Test
  void emptyVariablesCountAsUnsetAndSocketDirectoriesAreLeftAside() {
    Map<String, String> env = Map.of("PGHOST", "/var/run/postgresql", "PGPORT", "", "PGUSER", "");

    PostgresAddress a = PostgresAddress.parse("primary", "postgresql:///db", env);

    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://localhost/db");
    assertThat(a).hasToString("postgresql://" + System.getProperty("user.name") + "@localhost/db");
  }

  @Test
  void hostAndPortListsPairUp() {
    assertThat(
            parse("primary", "postgresql:///db", Map.of("PGHOST", "a,b", "PGPORT", "1,2"))
                .jdbcUrl())
        .isEqualTo("jdbc:postgresql://a:1,b:2/db");
    assertThat(parse("primary", "postgresql://a,b:7/db", Map.of("PGPORT", "9")).jdbcUrl())
        .isEqualTo("jdbc:postgresql://a:9,b:7/db");
    assertThat(parse("primary", "postgresql://[::1]/db", Map.of("PGPORT", "9")).jdbcUrl())
        .isEqualTo("jdbc:postgresql://[::1]:9/db");
    assertThatThrownBy(() -> parse("primary", "postgresql://a,b,c/db", Map.of("PGPORT", "1,2")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("PGPORT lists 2 ports for the 3 host(s) of the primary address");
  }

  @Test
  void passwordComesFromTheAddressThenPgpasswordThenThePasswordFile() throws Exception {
    writePasswordFile(home.resolve(".pgpass"), "h:5432:db:me:fromfile\n");

    assertThat(password(parse("primary", "postgresql://me:fromuri@h/db", pw("fromenv"))))
        .isEqualTo("fromuri");
    assertThat(password(parse("primary", "postgresql://h/db?password=fromquery", pw("fromenv"))))
        .isEqualTo("fromquery");
    assertThat(password(parse("primary", "postgresql://me@h/db", pw("fromenv"))))
        .isEqualTo("fromenv");
    assertThat(password(parse("primary", "postgresql://me@h/db"))).isEqualTo("fromfile");
    assertThat(password(parse("primary", "postgresql://me@h/db", pw("")))).isEqualTo("fromfile");
  }

  @Test
  void thePasswordFileIsMatchedWithTheDefaultsAndTheEnvironmentApplied() throws Exception {
    writePasswordFile(
        home.resolve(".pgpass"),
        "envhost:6543:envdb:envuser:all-from-env\nlocalhost:5432:me:me:defaults\n");

    assertThat(password(parse("primary", "postgresql://", LIBPQ_ENV))).isEqualTo("all-from-env");
    assertThat(password(parse("primary", "postgresql://"))).isEqualTo("defaults");
  }

  @Test
  void pgpassfileWinsOverHome() throws Exception {
    writePasswordFile(home.resolve(".pgpass"), "*:*:*:*:home\n");
    Path other = home.resolve("other-pgpass");
    writePasswordFile(other, "*:*:*:*:other\n");

    Map<String, String> env = Map.of("PGPASSFILE", other.toString());

    assertThat(password(parse("primary", "postgresql://h/db", env))).isEqualTo("other");
  }

  @Test
  void withoutAnyPasswordPgjdbcIsGivenAnEmptyOneSoItDoesNotLookAgain() {
    assertThat(password(parse("primary", "postgresql://h/db"))).isEmpty();
  }

  @Test
  void toStringNeverShowsAPasswordFromTheEnvironment() {
    assertThat(parse("primary", "postgresql://h/db", pw("TopSecret")).toString())
        .doesNotContain("TopSecret");
  }

  private static Map<String, String> pw(String password) {
    return Map.of("PGPASSWORD", password);
  }

  private static String password(PostgresAddress a) {
    return a.connectionProperties("replicador-test").getProperty("password");
  }

  static void writePasswordFile(Path file, String text) throws Exception {
    Files.writeString(file, text);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
  }
}
