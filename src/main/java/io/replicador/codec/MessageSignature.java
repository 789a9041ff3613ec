package io.replicador.codec;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.crypto.Mac;

/**
 * Signs change messages and checks their signatures: an HMAC-SHA256, keyed with a {@link
 * SigningKey}, over the scheme's name, the key id, the message id, the content type, the {@code
 * replicador-source} and {@code replicador-position} headers and the body, each preceded by its
 * length so that no two messages sign the same bytes. Travels in two headers: {@value #KEY_HEADER}
 * (the key id) and {@value #SIGNATURE_HEADER} ({@code v1=} and the base64 HMAC). See
 * docs/message-format.md. Immutable; thread-safe.
 */
public final class MessageSignature {
  public static final String KEY_HEADER = "replicador-key-id";
  public static final String SIGNATURE_HEADER = "replicador-signature";
  public static final String SOURCE_HEADER = "replicador-source";
  public static final String POSITION_HEADER = "replicador-position";

  /** The version of the signing scheme; a new way of signing gets a new prefix. */
  static final String SCHEME = "v1";

  private final List<SigningKey> keys;

  /**
   * @param keys the keys a signature may be made with; when signing, the first one signs
   */
  public MessageSignature(List<SigningKey> keys) {
    if (keys.isEmpty()) {
      throw new IllegalArgumentException("no signing key");
    }
    this.keys = List.copyOf(keys);
  }

  /** The key ids, for log lines. */
  public List<String> keyIds() {
    return keys.stream().map(SigningKey::id).toList();
  }

  /**
   * The headers that sign a message: {@code headers} with the key id and signature added. The
   * message's {@code replicador-source} and {@code replicador-position} headers are signed as they
   * are in {@code headers}.
   */
  public Map<String, Object> sign(
      String messageId, String contentType, Map<String, Object> headers, byte[] body) {
    SigningKey key = keys.get(0);
    Map<String, Object> signed = new LinkedHashMap<>(headers);
    signed.put(KEY_HEADER, key.id());
    signed.put(
        SIGNATURE_HEADER,
        SCHEME
            + "="
            + Base64.getEncoder().encodeToString(mac(key, messageId, contentType, headers, body)));
    return signed;
  }

  /**
   * Why the message's signature is not valid with any of this instance's keys, or empty when it is.
   * Header values may be of any type whose {@code toString} is their text (as the AMQP client's
   * are).
   */
  public Optional<String> problem(
      String messageId, String contentType, Map<String, ?> headers, byte[] body) {
    Object keyId = headers.get(KEY_HEADER);
    Object signature = headers.get(SIGNATURE_HEADER);
    if (signature == null || keyId == null) {
      return Optional.of("unsigned: no " + SIGNATURE_HEADER + " and " + KEY_HEADER + " headers");
    }
    String sig = signature.toString();
    if (!sig.startsWith(SCHEME + "=")) {
      return Optional.of(
          "signature of an unknown scheme (expected "
              + SCHEME
              + "=...); a newer publisher may sign differently");
    }
    SigningKey key =
        keys.stream().filter(k -> k.id().equals(keyId.toString())).findFirst().orElse(null);
    if (key == null) {
      return Optional.of(
          "signed with key "
              + printable(keyId.toString())
              + ", which is not one of this listener's keys "
              + keyIds());
    }
    byte[] claimed;
    try {
      claimed = Base64.getDecoder().decode(sig.substring(SCHEME.length() + 1));
    } catch (IllegalArgumentException e) {
      return Optional.of("signature is not base64");
    }
    if (!MessageDigest.isEqual(claimed, mac(key, messageId, contentType, headers, body))) {
      return Optional.of(
          "signature does not match key " + key.id() + ": the message was altered or forged");
    }
    return Optional.empty();
  }

  private static byte[] mac(
      SigningKey key, String messageId, String contentType, Map<String, ?> headers, byte[] body) {
    Mac mac = key.mac();
    ByteArrayOutputStream fields = new ByteArrayOutputStream();
    for (String field :
        new String[] {
          "replicador-signature-" + SCHEME,
          key.id(),
          messageId,
          contentType,
          text(headers.get(SOURCE_HEADER)),
          text(headers.get(POSITION_HEADER))
        }) {
      byte[] b = field == null ? new byte[0] : field.getBytes(StandardCharsets.UTF_8);
      // -1 for an absent field, so that absent and empty differ
      fields.writeBytes(ByteBuffer.allocate(4).putInt(field == null ? -1 : b.length).array());
      fields.writeBytes(b);
    }
    mac.update(fields.toByteArray());
    mac.update(ByteBuffer.allocate(8).putLong(body.length).array());
    mac.update(body);
    return mac.doFinal();
  }

  private static String text(Object value) {
    return value == null ? null : value.toString();
  }

  /** A header value fit for a log line: short, printable. */
  private static String printable(String s) {
    String t = s.replaceAll("[^0-9A-Za-z_.:-]", "?");
    return "'" + (t.length() > 40 ? t.substring(0, 40) + "..." : t) + "'";
  }
}
