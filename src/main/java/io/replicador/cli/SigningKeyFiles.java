package io.replicador.cli;

import io.replicador.codec.MessageSignature;
import io.replicador.codec.SigningKey;
import io.replicador.config.ConfigException;
import io.replicador.config.SigningKeyFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Turns {@code --signing-key-file} values into the keys that sign or check messages. */
final class SigningKeyFiles {
  private SigningKeyFiles() {}

  /** The signature made or checked with the keys in these files; null when there are none. */
  static MessageSignature load(List<String> files) {
    List<SigningKey> keys = new ArrayList<>();
    for (String f : files) {
      if (f.isBlank()) {
        throw new ConfigException("--signing-key-file is empty; name a file holding the key");
      }
      SigningKey key = SigningKey.of(SigningKeyFile.read(Path.of(f.strip())));
      if (keys.contains(key)) {
        throw new ConfigException(
            "--signing-key-file " + f + " holds the same key as an earlier file (" + key + ")");
      }
      keys.add(key);
    }
    return keys.isEmpty() ? null : new MessageSignature(keys);
  }
}
