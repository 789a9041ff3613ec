package io.replicador.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throw-away certificate authority made with {@code openssl} in a directory of its own, and the
 * certificates it signs (PEM; keys unencrypted PKCS#8). For TLS tests; the caller deletes the
 * directory (see {@link RabbitNode}, which does).
 */
public final class TestCertificates {
  private final Path dir;

  /** A certificate and its key, and the CA file that verifies it. */
  public record Issued(Path cert, Path key, Path ca) {}

  private TestCertificates(Path dir) {
    this.dir = dir;
  }

  /** Whether openssl can be run here; null when it can, else why not. */
  public static String unavailable() {
    try {
      Process p = new ProcessBuilder("openssl", "version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 ? null : "openssl failed";
    } catch (IOException e) {
      return "openssl is not installed";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  /** A new CA named {@code cn}, in {@code dir} (created). */
  public static TestCertificates authority(Path dir, String cn) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    TestCertificates ca = new TestCertificates(dir);
    ca.openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=" + cn,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem");
    return ca;
  }

  public Path caFile() {
    return dir.resolve("ca.pem");
  }

  /**
   * A certificate for {@code cn} signed by this CA, with the subject alternative names given (e.g.
   * {@code DNS:localhost}); usable by a server and a client.
   */
  public Issued issue(String name, String cn, String... altNames) {
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=" + cn,
        "-keyout",
        name + ".key",
        "-out",
        name + ".csr");
    List<String> ext = new ArrayList<>();
    ext.add("basicConstraints=CA:FALSE");
    ext.add("keyUsage=digitalSignature,keyEncipherment");
    ext.add("extendedKeyUsage=serverAuth,clientAuth");
    if (altNames.length > 0) {
      ext.add("subjectAltName=" + String.join(",", altNames));
    }
    write(name + ".ext", String.join("\n", ext) + "\n");
    openssl(
        "x509",
        "-req",
        "-in",
        name + ".csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        name + ".ext",
        "-out",
        name + ".pem");
    return new Issued(dir.resolve(name + ".pem"), dir.resolve(name + ".key"), caFile());
  }

  /** A self-signed certificate for {@code cn} that no CA vouches for. */
  public Issued selfSigned(String name, String cn, String... altNames) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=" + cn,
                "-keyout",
                name + ".key",
                "-out",
                name + ".pem"));
    if (altNames.length > 0) {
      args.addAll(List.of("-addext", "subjectAltName=" + String.join(",", altNames)));
    }
    openssl(args.toArray(String[]::new));
    return new Issued(
        dir.resolve(name + ".pem"), dir.resolve(name + ".key"), dir.resolve(name + ".pem"));
  }

  private void write(String file, String text) {
    try {
      Files.writeString(dir.resolve(file), text, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private void openssl(String... args) {
    List<String> command = new ArrayList<>();
    command.add("openssl");
    command.addAll(List.of(args));
    try {
      Process p =
          new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("openssl " + String.join(" ", args) + " failed:\n" + out);
      }
    } catch (IOException e) {
      throw new IllegalStateException("Cannot run openssl", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted while running openssl", e);
    }
  }
}
