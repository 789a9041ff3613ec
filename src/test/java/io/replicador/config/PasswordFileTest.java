package io.replicador.config;

import static io.replicador.config.PostgresAddressTest.writePasswordFile;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PasswordFileTest {
  @TempDir Path dir;

  @Test
  void firstMatchingLineWinsAndStarMatchesAnything() throws Exception {
    Path file = dir.resolve("pgpass");
    writePasswordFile(
        file,
        "# comment\n"
            + "\n"
            + "db1.example:5432:shop:app:first\n"
            + "*:5432:shop:app:second\n"
            + "*:*:*:*:last\n");

    assertThat(PasswordFile.lookup(file, "db1.example", "5432", "shop", "app")).contains("first");
    assertThat(PasswordFile.lookup(file, "db2.example", "5432", "shop", "app")).contains("second");
    assertThat(PasswordFile.lookup(file, "db1.example", "5433", "shop", "app")).contains("last");
  }

  @Test
  void backslashEscapesColonAndBackslash() throws Exception {
    Path file = dir.resolve("pgpass");
    writePasswordFile(file, "h:5432:odd\\:name:u:pa\\:ss\\\\word\n");

    assertThat(PasswordFile.lookup(file, "h", "5432", "odd:name", "u")).contains("pa:ss\\word");
    assertThat(PasswordFile.fields("a\\:b:c")).containsExactly("a:b", "c");
  }

  @Test
  void noMatchShortLinesAndAMissingFileGiveNothing() throws Exception {
    Path file = dir.resolve("pgpass");
    writePasswordFile(file, "h:5432:db\nh:5432:db:other:pw\n");

    assertThat(PasswordFile.lookup(file, "h", "5432", "db", "u")).isEmpty();
    assertThat(PasswordFile.lookup(dir.resolve("absent"), "h", "5432", "db", "u")).isEmpty();
  }

  @Test
  void aFileOthersCanReadIsIgnoredAsLibpqDoes() throws Exception {
    Path file = dir.resolve("pgpass");
    Files.writeString(file, "*:*:*:*:pw\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

    assertThat(PasswordFile.lookup(file, "h", "5432", "db", "u")).isEmpty();
  }

  @Test
  void locationIsPgpassfileElseHome() {
    assertThat(PasswordFile.location(Map.of("PGPASSFILE", "/x/pw", "HOME", "/home/u")))
        .isEqualTo(Path.of("/x/pw"));
    assertThat(PasswordFile.location(Map.of("PGPASSFILE", "", "HOME", "/home/u")))
        .isEqualTo(Path.of("/home/u/.pgpass"));
    assertThat(PasswordFile.location(Map.of()))
        .isEqualTo(Path.of(System.getProperty("user.home"), ".pgpass"));
  }
}
