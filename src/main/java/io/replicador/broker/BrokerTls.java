package io.replicador.broker;

import io.replicador.config.ConfigException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * How an {@code amqps://} connection checks the broker and shows itself: the broker's certificate
 * is verified against the Java runtime's trust store (which Debian and most distributions fill from
 * the system's CA certificates), or against the CA certificates of {@code caFile}, and its host
 * name against the address; {@code certFile} and {@code keyFile} (PEM; the key unencrypted PKCS#8)
 * are a client certificate for brokers that require one; {@code insecure} accepts any certificate
 * (logged as a warning where the connection is made). Immutable.
 *
 * @param caFile PEM file of CA certificates to trust instead of the default trust store, or null
 * @param certFile PEM client certificate (chain), or null
 * @param keyFile PEM private key of the client certificate, or null
 * @param insecure accept any certificate and host name
 */
public record BrokerTls(Path caFile, Path certFile, Path keyFile, boolean insecure) {
  /** Verify against the default trust store, no client certificate. */
  public static final BrokerTls DEFAULT = new BrokerTls(null, null, null, false);

  private static final Pattern PEM =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]+)-----END \\1-----");

  public BrokerTls {
    if ((certFile == null) != (keyFile == null)) {
      throw new ConfigException(
          "--amqp-cert and --amqp-key go together: give the client certificate and its key");
    }
    if (insecure && caFile != null) {
      throw new ConfigException(
          "--amqp-insecure and --amqp-ca contradict each other: --amqp-ca verifies the broker,"
              + " --amqp-insecure does not; drop one");
    }
  }

  /** Whether anything differs from {@link #DEFAULT}. */
  public boolean configured() {
    return !equals(DEFAULT);
  }

  /** The TLS context for a connection; reads the files now. */
  SSLContext context() {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(
          certFile == null ? null : keyManagers(),
          insecure ? new TrustManager[] {new AcceptAny()} : trustManagers(),
          null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new ConfigException("Cannot set up TLS for RabbitMQ: " + e.getMessage(), e);
    }
  }

  private TrustManager[] trustManagers() throws GeneralSecurityException {
    TrustManagerFactory f =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    if (caFile == null) {
      f.init((KeyStore) null); // the runtime's default trust store
      return f.getTrustManagers();
    }
    KeyStore store = emptyStore();
    List<Certificate> cas = certificates(caFile, "--amqp-ca");
    for (int i = 0; i < cas.size(); i++) {
      store.setCertificateEntry("ca-" + i, cas.get(i));
    }
    f.init(store);
    return f.getTrustManagers();
  }

  private javax.net.ssl.KeyManager[] keyManagers() throws GeneralSecurityException {
    List<Certificate> chain = certificates(certFile, "--amqp-cert");
    PrivateKey key = privateKey(keyFile);
    KeyStore store = emptyStore();
    char[] none = new char[0];
    store.setKeyEntry("client", key, none, chain.toArray(Certificate[]::new));
    KeyManagerFactory f = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    f.init(store, none);
    return f.getKeyManagers();
  }

  private static KeyStore emptyStore() throws GeneralSecurityException {
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    try {
      store.load(null, null);
    } catch (IOException e) {
      throw new IllegalStateException("an empty key store reads nothing", e);
    }
    return store;
  }

  private static List<Certificate> certificates(Path file, String option) {
    byte[] bytes = read(file, option);
    try {
      List<Certificate> certs =
          new ArrayList<>(
              CertificateFactory.getInstance("X.509")
                  .generateCertificates(new ByteArrayInputStream(bytes)));
      if (certs.isEmpty()) {
        throw new ConfigException(option + " " + file + " holds no PEM certificate");
      }
      return certs;
    } catch (GeneralSecurityException e) {
      throw new ConfigException(
          option + " " + file + " is not a PEM certificate file (" + e.getMessage() + ")", e);
    }
  }

  private static PrivateKey privateKey(Path file) {
    String text = new String(read(file, "--amqp-key"), StandardCharsets.US_ASCII);
    Matcher m = PEM.matcher(text);
    while (m.find()) {
      if (!m.group(1).equals("PRIVATE KEY")) {
        continue;
      }
      byte[] der = Base64.getMimeDecoder().decode(m.group(2));
      for (String algorithm : List.of("RSA", "EC", "Ed25519", "EdDSA")) {
        try {
          return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (GeneralSecurityException e) {
          // not this algorithm; try the next
        }
      }
    }
    throw new ConfigException(
        "--amqp-key "
            + file
            + " holds no unencrypted PKCS#8 private key (-----BEGIN PRIVATE KEY-----); convert"
            + " it with 'openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8'");
  }

  private static byte[] read(Path file, String option) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new ConfigException(
          option + " " + file + " cannot be read (" + e.getClass().getSimpleName() + ")", e);
    }
  }

  /** For {@code --amqp-insecure} alone: accepts every certificate. */
  private static final class AcceptAny implements X509TrustManager {
    @Override
    public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String authType) {}

    @Override
    public java.security.cert.X509Certificate[] getAcceptedIssuers() {
      return new java.security.cert.X509Certificate[0];
    }
  }
}
