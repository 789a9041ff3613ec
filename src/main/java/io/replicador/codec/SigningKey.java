package io.replicador.codec;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A secret shared by the publisher and the listeners, with which change messages are signed
 * (HMAC-SHA256). Its id is derived from the secret (the first 8 bytes of its SHA-256, in hex), so
 * operators need not name keys, and a listener given several keys (during a rotation) picks the one
 * a message names. Immutable and thread-safe; {@link #toString} shows the id, never the secret.
 */
public final class SigningKey {
  /** The fewest bytes of secret a key may have: as many as the HMAC-SHA256 output. */
  public static final int MIN_BYTES = 32;

  private final byte[] secret;
  private final String id;

  private SigningKey(byte[] secret, String id) {
    this.secret = secret;
    this.id = id;
  }

  /**
   * A key of these bytes (copied).
   *
   * @throws IllegalArgumentException when there are fewer than {@link #MIN_BYTES}
   */
  public static SigningKey of(byte[] secret) {
    if (secret.length < MIN_BYTES) {
      throw new IllegalArgumentException(
          "a signing key needs at least "
              + MIN_BYTES
              + " bytes of secret, this one has "
              + secret.length);
    }
    byte[] copy = secret.clone();
    return new SigningKey(copy, HexFormat.of().formatHex(sha256(copy), 0, 8));
  }

  /** Derived from the secret; safe to show and log. */
  public String id() {
    return id;
  }

  /** A new HMAC-SHA256 keyed with this secret; one per thread. */
  Mac mac() {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      return mac;
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("Every Java runtime has HmacSHA256", e);
    }
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("Every Java runtime has SHA-256", e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SigningKey k && MessageDigest.isEqual(secret, k.secret);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(id.getBytes(StandardCharsets.US_ASCII));
  }

  @Override
  public String toString() {
    return "signing key " + id;
  }
}
