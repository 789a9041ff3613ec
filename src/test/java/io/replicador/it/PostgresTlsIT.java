package io.replicador.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.config.PostgresAddress;
import io.replicador.testing.PgCluster;
import io.replicador.testing.RabbitNode;
import io.replicador.testing.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 21: PostgreSQL addresses keep libpq's sslmode and sslrootcert. A cluster of this test's own
 * serves TLS with a certificate (for IP 127.0.0.1) from a CA generated here; verify-full accepts it
 * with that CA and refuses it with another one. Skipped, saying why, without openssl.
 */
class PostgresTlsIT {
  private static Path dir;
  private static TestCertificates ca;
  private static TestCertificates other;
  private static PgCluster cluster;

  @BeforeAll
  static void start() throws Exception {
    String why = TestCertificates.unavailable();
    Assumptions.assumeTrue(why == null, "needs openssl to make certificates, but " + why);
    dir = RabbitNode.newDirectory("pg-tls");
    ca = TestCertificates.authority(dir.resolve("ca"), "Replicador test CA");
    other = TestCertificates.authority(dir.resolve("other"), "Another CA");
    TestCertificates.Issued server = ca.issue("server", "127.0.0.1", "IP:127.0.0.1");
    // the server (run as nobody under root) reads its key, which must be its own and private
    for (Path p : new Path[] {dir, dir.resolve("ca")}) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    Files.setPosixFilePermissions(server.cert(), PosixFilePermissions.fromString("rw-r--r--"));
    Files.setPosixFilePermissions(server.key(), PosixFilePermissions.fromString("rw-------"));
    if ("root".equals(System.getProperty("user.name"))) {
      UserPrincipal nobody =
          dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
      Files.setOwner(server.key(), nobody);
    }
    cluster =
        PgCluster.start(
            "tls",
            Map.of(
                "ssl", "on",
                "ssl_cert_file", server.cert().toString(),
                "ssl_key_file", server.key().toString()));
  }

  @AfterAll
  static void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
    if (dir != null) {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static String uri(Path rootCert) {
    return "postgresql://postgres@127.0.0.1:"
        + cluster.port()
        + "/postgres?sslmode=verify-full&sslrootcert="
        + rootCert;
  }

  @Test
  void verifyFullConnectsOverTlsWithTheServersCa() throws Exception {
    try (Connection c = PostgresAddress.parse("primary", uri(ca.caFile())).connect("test");
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getBoolean(1)).isTrue();
    }
  }

  @Test
  void verifyFullRefusesAServerItsCaDidNotSign() {
    assertThatThrownBy(
            () -> PostgresAddress.parse("primary", uri(other.caFile())).connect("test").close())
        .isInstanceOf(SQLException.class);
  }
}
