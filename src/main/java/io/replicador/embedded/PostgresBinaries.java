package io.replicador.embedded;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.zip.CRC32;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tukaani.xz.XZInputStream;

/**
 * Finds PostgreSQL server binaries (initdb, pg_ctl, postgres): {@code REPLICADOR_PG_BIN} when set
 * (a directory, or {@code embedded} to force the bundled ones), else an installed PostgreSQL
 * (/usr/lib/postgresql/N/bin, then the PATH), else the binaries that ship inside Replicador's jar
 * (PostgreSQL 17 for Linux x86-64), extracted once into a cache directory.
 *
 * <p>The cache lies outside the home directory (under /var/tmp) because under root the server runs
 * as {@code nobody}, who cannot enter /root; it holds only read-only program files. Thread-safe:
 * concurrent extractions (also from other JVMs) each unpack into their own temporary directory and
 * the first rename wins.
 */
public final class PostgresBinaries {
  private static final Logger log = LoggerFactory.getLogger(PostgresBinaries.class);

  /** Set REPLICADOR_PG_BIN to this to use the bundled binaries even where others are installed. */
  public static final String EMBEDDED = "embedded";

  private static final String RESOURCE = "/postgres-linux-x86_64.txz";

  private PostgresBinaries() {}

  /** The directory holding initdb and pg_ctl, extracting the bundled binaries if need be. */
  public static Path locate() {
    String env = System.getenv("REPLICADOR_PG_BIN");
    if (env != null && !env.isBlank()) {
      if (EMBEDDED.equalsIgnoreCase(env.strip())) {
        return bundled();
      }
      Path dir = Path.of(env.strip());
      if (!Files.isExecutable(dir.resolve("initdb"))
          || !Files.isExecutable(dir.resolve("pg_ctl"))) {
        throw new IllegalStateException(
            "REPLICADOR_PG_BIN is "
                + dir
                + " but it has no initdb and pg_ctl; point it at the"
                + " bin directory of a PostgreSQL 13+ server, or set it to 'embedded'");
      }
      return dir;
    }
    for (String v : List.of("17", "16", "15", "14", "13")) {
      Path p = Path.of("/usr/lib/postgresql", v, "bin");
      if (Files.isExecutable(p.resolve("initdb")) && Files.isExecutable(p.resolve("pg_ctl"))) {
        return p;
      }
    }
    for (String dirName : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!dirName.isEmpty()
          && Files.isExecutable(Path.of(dirName, "initdb"))
          && Files.isExecutable(Path.of(dirName, "pg_ctl"))) {
        return Path.of(dirName);
      }
    }
    return bundled();
  }

  private static Path bundled() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "");
    URL archive = PostgresBinaries.class.getResource(RESOURCE);
    if (!os.contains("linux")
        || !(arch.equals("amd64") || arch.equals("x86_64"))
        || archive == null) {
      throw new IllegalStateException(
          "No PostgreSQL server binaries (initdb, pg_ctl) found and none bundled for "
              + os
              + "/"
              + arch
              + "; install PostgreSQL 13+ or set REPLICADOR_PG_BIN to its bin directory");
    }
    try {
      Path cache = cacheRoot().resolve("replicador-postgres-" + fingerprint(archive));
      Path bin = cache.resolve("bin");
      if (Files.isExecutable(bin.resolve("pg_ctl"))) {
        return bin;
      }
      extract(archive, cache);
      return bin;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "Cannot unpack the bundled PostgreSQL binaries: " + e.getMessage(), e);
    }
  }

  /**
   * /var/tmp/replicador-USER: survives reboots on most systems, is not under a home directory that
   * {@code nobody} cannot enter, and is per user so nobody else can plant files in it.
   */
  private static Path cacheRoot() throws IOException {
    String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9_.-]", "_");
    Path base = Path.of("/var/tmp");
    if (!Files.isWritable(base)) {
      base = Path.of(System.getProperty("java.io.tmpdir"));
    }
    Path root = base.resolve("replicador-" + user);
    try {
      Files.createDirectory(
          root, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    } catch (FileAlreadyExistsException e) {
      // made earlier: use it only if it is ours and nobody else can write into it
      String owner = Files.getOwner(root, LinkOption.NOFOLLOW_LINKS).getName();
      Set<PosixFilePermission> perms =
          Files.getPosixFilePermissions(root, LinkOption.NOFOLLOW_LINKS);
      if (!owner.equals(System.getProperty("user.name"))
          || !Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)
          || perms.contains(PosixFilePermission.GROUP_WRITE)
          || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
        throw new IOException(
            root
                + " exists but is not a private directory of user "
                + System.getProperty("user.name")
                + "; remove it");
      }
    }
    return root;
  }

  /** The archive's CRC: new binaries (another Replicador version) get their own directory. */
  private static String fingerprint(URL archive) throws IOException {
    URLConnection c = archive.openConnection();
    if (c instanceof JarURLConnection jar && jar.getJarEntry().getCrc() != -1) {
      return Long.toHexString(jar.getJarEntry().getCrc());
    }
    CRC32 crc = new CRC32();
    try (InputStream in = c.getInputStream()) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        crc.update(buf, 0, n);
      }
    }
    return Long.toHexString(crc.getValue());
  }

  private static void extract(URL archive, Path target) throws IOException {
    log.info("Unpacking the bundled PostgreSQL server binaries into {}", target);
    Path tmp = Files.createTempDirectory(target.getParent(), target.getFileName() + ".tmp-");
    try {
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
      try (InputStream raw = archive.openStream();
          TarArchiveInputStream tar = new TarArchiveInputStream(new XZInputStream(raw))) {
        for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
          Path out = tmp.resolve(e.getName()).normalize();
          if (!out.startsWith(tmp)) {
            throw new IOException("archive entry outside its directory: " + e.getName());
          }
          if (e.isDirectory()) {
            Files.createDirectories(out);
          } else if (e.isSymbolicLink()) {
            Files.createDirectories(out.getParent());
            Files.createSymbolicLink(out, Path.of(e.getLinkName()));
          } else {
            Files.createDirectories(out.getParent());
            Files.copy(tar, out, StandardCopyOption.REPLACE_EXISTING);
            // readable (and executable where it was) by everyone: the server may run as nobody
            boolean exec = (e.getMode() & 0100) != 0;
            Files.setPosixFilePermissions(
                out, PosixFilePermissions.fromString(exec ? "rwxr-xr-x" : "rw-r--r--"));
          }
        }
      }
      try (var dirs = Files.walk(tmp)) {
        for (Path d :
            (Iterable<Path>)
                dirs.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))::iterator) {
          Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
        // another process finished first; its copy is as good as ours
      } catch (IOException e) {
        if (!Files.isExecutable(target.resolve("bin").resolve("pg_ctl"))) {
          throw e;
        }
      }
    } finally {
      Files2.deleteTree(tmp);
    }
  }
}
