package io.replicador.change;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class IdentifiersTest {

  @Test
  void wrapsInDoubleQuotesKeepingCase() {
    assertThat(Identifiers.quote("MixedCase")).isEqualTo("\"MixedCase\"");
  }

  @Test
  void doublesEmbeddedQuotes() {
    assertThat(Identifiers.quote("a\"b")).isEqualTo("\"a\"\"b\"");
    assertThat(Identifiers.quote("\"")).isEqualTo("\"\"\"\"");
  }

  @Test
  void leavesSpacesReservedWordsAndOtherPunctuationAlone() {
    assertThat(Identifiers.quote("select")).isEqualTo("\"select\"");
    assertThat(Identifiers.quote("a b;--'c")).isEqualTo("\"a b;--'c\"");
  }

  @Test
  void rejectsNulCharacter() {
    assertThatThrownBy(() -> Identifiers.quote("a\0b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("NUL");
  }
}
