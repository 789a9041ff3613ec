package io.replicador.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A libpq password file ({@code ~/.pgpass}): lines of {@code host:port:database:user:password},
 * where {@code *} matches anything and a backslash escapes {@code :} or {@code \}. The first
 * matching line wins. As libpq does, a file that the group or others may read or write, or that is
 * not a regular file, is ignored with a warning. Stateless: the file is read at each lookup, so a
 * reconnect sees an edited file. Never logs a password.
 */
public final class PasswordFile {
  private static final Logger log = LoggerFactory.getLogger(PasswordFile.class);
  private static final Set<PosixFilePermission> GROUP_OR_OTHERS =
      EnumSet.of(
          PosixFilePermission.GROUP_READ,
          PosixFilePermission.GROUP_WRITE,
          PosixFilePermission.GROUP_EXECUTE,
          PosixFilePermission.OTHERS_READ,
          PosixFilePermission.OTHERS_WRITE,
          PosixFilePermission.OTHERS_EXECUTE);

  private PasswordFile() {}

  /**
   * Where libpq looks: {@code PGPASSFILE}, else {@code .pgpass} in {@code $HOME}, else in the JVM's
   * idea of the home directory (from the user database, as libpq falls back to).
   */
  public static Path location(Map<String, String> environment) {
    String file = environment.get("PGPASSFILE");
    if (file != null && !file.isEmpty()) {
      return Path.of(file);
    }
    String home = environment.get("HOME");
    return Path.of(home != null && !home.isEmpty() ? home : System.getProperty("user.home"))
        .resolve(".pgpass");
  }

  /** The password of the first line matching these connection parameters, if any. */
  public static Optional<String> lookup(
      Path file, String host, String port, String database, String user) {
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    List<String> lines;
    try {
      if (!Files.isRegularFile(file)) {
        log.warn("Password file {} is not a plain file; ignoring it", file);
        return Optional.empty();
      }
      if (isSharedWithOthers(file)) {
        log.warn(
            "Password file {} has group or world access; ignoring it (make it u=rw, 0600, as"
                + " libpq requires)",
            file);
        return Optional.empty();
      }
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      log.warn("Cannot read password file {}: {}; ignoring it", file, e.toString());
      return Optional.empty();
    }
    for (String line : lines) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      List<String> fields = fields(line);
      if (fields.size() >= 5
          && matches(fields.get(0), host)
          && matches(fields.get(1), port)
          && matches(fields.get(2), database)
          && matches(fields.get(3), user)) {
        return Optional.of(fields.get(4));
      }
    }
    return Optional.empty();
  }

  private static boolean isSharedWithOthers(Path file) throws IOException {
    try {
      Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
      return permissions.stream().anyMatch(GROUP_OR_OTHERS::contains);
    } catch (UnsupportedOperationException e) {
      return false; // no POSIX permissions here (Windows): libpq does not check either
    }
  }

  private static boolean matches(String pattern, String value) {
    return pattern.equals("*") || pattern.equals(value);
  }

  /** The line's fields, split at unescaped colons, with escapes removed. */
  static List<String> fields(String line) {
    List<String> fields = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '\\' && i + 1 < line.length()) {
        field.append(line.charAt(++i));
      } else if (c == ':') {
        fields.add(field.toString());
        field.setLength(0);
      } else {
        field.append(c);
      }
    }
    fields.add(field.toString());
    return fields;
  }
}
