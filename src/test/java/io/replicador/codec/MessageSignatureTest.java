package io.replicador.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MessageSignatureTest {
  private static final SigningKey OLD = key("an old secret of at least 32 bytes, really");
  private static final SigningKey NEW = key("a new secret of at least 32 bytes, truly yes");
  private static final byte[] BODY = "{\"format\":\"replicador\"}".getBytes(StandardCharsets.UTF_8);
  private static final Map<String, Object> HEADERS =
      Map.of("replicador-source", "src-1", "replicador-position", 41L);

  private static SigningKey key(String secret) {
    return SigningKey.of(secret.getBytes(StandardCharsets.UTF_8));
  }

  private static Map<String, Object> signed(SigningKey key) {
    return new MessageSignature(List.of(key))
        .sign("src-1:41:0", "application/vnd.replicador.v1+json", HEADERS, BODY);
  }

  @Test
  void acceptsWhatItSigned() {
    Map<String, Object> headers = signed(OLD);
    assertThat(headers)
        .containsEntry("replicador-key-id", OLD.id())
        .containsEntry("replicador-source", "src-1")
        .containsKey("replicador-signature");
    assertThat(headers.get("replicador-signature").toString()).startsWith("v1=");
    assertThat(
            new MessageSignature(List.of(OLD))
                .problem("src-1:41:0", "application/vnd.replicador.v1+json", headers, BODY))
        .isEmpty();
  }

  @Test
  void rejectsAnUnsignedMessage() {
    assertThat(new MessageSignature(List.of(OLD)).problem("m", "t", HEADERS, BODY))
        .hasValueSatisfying(p -> assertThat(p).startsWith("unsigned"));
  }

  @Test
  void rejectsAMessageSignedWithAnotherKey() {
    assertThat(
            new MessageSignature(List.of(NEW))
                .problem("src-1:41:0", "application/vnd.replicador.v1+json", signed(OLD), BODY))
        .hasValueSatisfying(p -> assertThat(p).contains(OLD.id()).contains("not one of"));
  }

  @Test
  void rejectsAMessageWhoseKeyIdWasChangedToAKnownOne() {
    Map<String, Object> headers = new HashMap<>(signed(OLD));
    headers.put("replicador-key-id", NEW.id());
    assertThat(
            new MessageSignature(List.of(OLD, NEW))
                .problem("src-1:41:0", "application/vnd.replicador.v1+json", headers, BODY))
        .hasValueSatisfying(p -> assertThat(p).contains("does not match"));
  }

  @Test
  void rejectsAnAlteredBodyOrHeader() {
    MessageSignature check = new MessageSignature(List.of(OLD));
    Map<String, Object> headers = signed(OLD);
    byte[] altered = BODY.clone();
    altered[3] ^= 1;
    assertThat(check.problem("src-1:41:0", "application/vnd.replicador.v1+json", headers, altered))
        .isPresent();
    Map<String, Object> moved = new HashMap<>(headers);
    moved.put("replicador-position", 1_000_000L);
    assertThat(check.problem("src-1:41:0", "application/vnd.replicador.v1+json", moved, BODY))
        .isPresent();
    assertThat(check.problem("src-1:42:0", "application/vnd.replicador.v1+json", headers, BODY))
        .isPresent();
    assertThat(check.problem("src-1:41:0", "application/vnd.replicador.v2+json", headers, BODY))
        .isPresent();
  }

  @Test
  void acceptsEitherKeyDuringARotation() {
    MessageSignature both = new MessageSignature(List.of(NEW, OLD));
    for (SigningKey k : List.of(OLD, NEW)) {
      assertThat(both.problem("src-1:41:0", "application/vnd.replicador.v1+json", signed(k), BODY))
          .isEmpty();
    }
  }

  @Test
  void headerValuesAreReadByTheirText() {
    // the AMQP client hands header strings over as LongString, whose toString is the text
    Map<String, Object> headers = new HashMap<>();
    signed(OLD).forEach((k, v) -> headers.put(k, new StringBuilder(v.toString())));
    assertThat(
            new MessageSignature(List.of(OLD))
                .problem("src-1:41:0", "application/vnd.replicador.v1+json", headers, BODY))
        .isEmpty();
  }

  @Test
  void keyIdComesFromTheSecretAndNeverShowsIt() {
    assertThat(OLD.id()).hasSize(16).isNotEqualTo(NEW.id());
    assertThat(key("an old secret of at least 32 bytes, really").id()).isEqualTo(OLD.id());
    assertThat(OLD.toString()).isEqualTo("signing key " + OLD.id()).doesNotContain("secret");
  }

  @Test
  void refusesAShortSecret() {
    assertThatThrownBy(() -> key("too short"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 32 bytes");
  }
}
