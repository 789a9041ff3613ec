package io.replicador.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SigningKeyFileTest {
  @TempDir Path dir;

  @Test
  void readsTheSecretWithoutTrailingLineBreaks() throws Exception {
    Path f = dir.resolve("key");
    String secret = "q8sN0aXbQ1Zt2l9fKc3vYw7mH5eRpJ6uT4gB0dA1sE8=";
    Files.writeString(f, secret + "\n");
    assertThat(new String(SigningKeyFile.read(f), StandardCharsets.UTF_8)).isEqualTo(secret);
  }

  @Test
  void refusesAShortKeyNamingTheFileButNotTheSecret() throws Exception {
    Path f = dir.resolve("short");
    Files.writeString(f, "hunter2-hunter2\n");
    assertThatThrownBy(() -> SigningKeyFile.read(f))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(f.toString())
        .hasMessageContaining("15 bytes, fewer than the 32")
        .hasMessageNotContaining("hunter2");
  }

  @Test
  void refusesAMissingFile() {
    Path f = dir.resolve("missing");
    assertThatThrownBy(() -> SigningKeyFile.read(f))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("cannot be read")
        .hasMessageContaining(f.toString());
  }
}
