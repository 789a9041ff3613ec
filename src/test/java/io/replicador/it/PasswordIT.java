package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.Failures;
import io.replicador.cli.Main;
import io.replicador.config.PostgresAddress;
import io.replicador.testing.PgCluster;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Passwords the libpq way against a server that asks for one (scram-sha-256 for user {@code app}):
 * PGPASSWORD and a password file found through $HOME log in, and a refused login says where the
 * password goes.
 */
class PasswordIT {
  private static final String PASSWORD = "S3cret-pw";
  private static Path hbaDir;
  private static PgCluster cluster;

  @TempDir Path home;

  @BeforeAll
  static void startServerThatWantsPasswords() throws Exception {
    // the server may run as nobody: its hba file must be readable by others
    hbaDir = Files.createTempDirectory("replicador-hba-");
    Files.setPosixFilePermissions(hbaDir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path hba = hbaDir.resolve("pg_hba.conf");
    Files.writeString(
        hba,
        "local all all trust\n"
            + "host all postgres 127.0.0.1/32 trust\n"
            + "host all all 127.0.0.1/32 scram-sha-256\n");
    Files.setPosixFilePermissions(hba, PosixFilePermissions.fromString("rw-r--r--"));
    cluster = PgCluster.start("passwords", Map.of("hba_file", hba.toString()));
    cluster.createDatabase("shop");
    exec(cluster, "shop", "CREATE ROLE app LOGIN PASSWORD '" + PASSWORD + "'");
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
    Files.deleteIfExists(hbaDir.resolve("pg_hba.conf"));
    Files.deleteIfExists(hbaDir);
  }

  private String appUri() {
    return "postgresql://app@127.0.0.1:" + cluster.port() + "/shop";
  }

  private static String currentUser(PostgresAddress address) throws SQLException {
    try (Connection c = address.connect("replicador-test");
        ResultSet rs = c.createStatement().executeQuery("SELECT current_user")) {
      rs.next();
      return rs.getString(1);
    }
  }

  @Test
  void pgpasswordLogsIn() throws Exception {
    Map<String, String> env = Map.of("HOME", home.toString(), "PGPASSWORD", PASSWORD);

    assertThat(currentUser(PostgresAddress.parse("primary", appUri(), env))).isEqualTo("app");
  }

  @Test
  void thePasswordFileUnderHomeLogsIn() throws Exception {
    Path pgpass = home.resolve(".pgpass");
    Files.writeString(pgpass, "127.0.0.1:" + cluster.port() + ":shop:app:" + PASSWORD + "\n");
    Files.setPosixFilePermissions(pgpass, PosixFilePermissions.fromString("rw-------"));
    Map<String, String> env = Map.of("HOME", home.toString());

    assertThat(currentUser(PostgresAddress.parse("primary", appUri(), env))).isEqualTo("app");
  }

  @Test
  void withoutAPasswordTheRefusalSaysWhereItGoes() {
    Map<String, String> env = Map.of("HOME", home.toString());

    assertThatThrownBy(() -> currentUser(PostgresAddress.parse("primary", appUri(), env)))
        .isInstanceOfSatisfying(
            SQLException.class,
            e -> {
              // refused by pgjdbc itself, without asking the server or another password file
              assertThat(e.getSQLState()).isEqualTo("08004");
              assertThat(Failures.describe(e))
                  .startsWith("The server asks for a password and none was given")
                  .contains("PGPASSWORD")
                  .contains("~/.pgpass")
                  .contains("--config file");
            });
  }

  @Test
  void theCommandReportsAWrongPasswordInOneLineWithoutShowingIt() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream old = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int status;
    try {
      status =
          Main.run(
              "install",
              "--primary",
              "postgresql://app:WrongPw1@127.0.0.1:" + cluster.port() + "/shop",
              "--tables",
              "public.t");
    } finally {
      System.setErr(old);
    }

    assertThat(status).isEqualTo(Main.EXIT_ERROR);
    String first = err.toString(StandardCharsets.UTF_8).lines().findFirst().orElse("");
    assertThat(first)
        .startsWith("replicador: FATAL: password authentication failed for user \"app\"")
        .endsWith(
            "give the user's password in PGPASSWORD, in ~/.pgpass, or in the address in"
                + " the --config file");
    assertThat(err.toString(StandardCharsets.UTF_8)).doesNotContain("WrongPw1");
  }
}
