package io.replicador.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Arrays;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the secret of a signing key from a file ({@code --signing-key-file}): its bytes, any
 * content (e.g. {@code head -c 32 /dev/urandom | base64}), without trailing line breaks, so that an
 * editor's final newline does not change the key. At least 32 bytes. A file that its group or
 * others may read is used with a warning. The secret is never part of a message. Stateless.
 */
public final class SigningKeyFile {
  private static final Logger log = LoggerFactory.getLogger(SigningKeyFile.class);
  public static final int MIN_BYTES = 32;

  private SigningKeyFile() {}

  /**
   * @throws ConfigException naming the file and the fix when it is missing, unreadable or short
   */
  public static byte[] read(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException | SecurityException e) {
      throw new ConfigException(
          "Signing key file "
              + file
              + " cannot be read ("
              + e.getClass().getSimpleName()
              + "); check --signing-key-file and the file's permissions",
          e);
    }
    int end = bytes.length;
    while (end > 0 && (bytes[end - 1] == '\n' || bytes[end - 1] == '\r')) {
      end--;
    }
    byte[] secret = Arrays.copyOf(bytes, end);
    Arrays.fill(bytes, (byte) 0);
    if (secret.length < MIN_BYTES) {
      throw new ConfigException(
          "Signing key file "
              + file
              + " holds "
              + secret.length
              + " bytes, fewer than the "
              + MIN_BYTES
              + " a key needs; make one with 'head -c 32 /dev/urandom | base64 > FILE'");
    }
    try {
      Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
      if (p.contains(PosixFilePermission.GROUP_READ)
          || p.contains(PosixFilePermission.OTHERS_READ)) {
        log.warn(
            "Signing key file {} can be read by its group or others; whoever reads it can sign"
                + " changes that replicas apply (chmod 600 it)",
            file);
      }
    } catch (IOException | UnsupportedOperationException e) {
      log.debug("Cannot read the permissions of {}", file, e);
    }
    return secret;
  }
}
