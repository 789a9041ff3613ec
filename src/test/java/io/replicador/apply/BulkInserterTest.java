package io.replicador.apply;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BulkInserterTest {
  private static String copyText(String value) {
    return "|" + BulkInserter.copyText(value) + "|";
  }

  @Test
  void escapesBackslashesAndLineAndFieldSeparatorsWhereverTheyAre() {
    assertThat(copyText("plain text, é€😀")).isEqualTo("|plain text, é€😀|");
    assertThat(copyText("")).isEqualTo("||");
    assertThat(copyText("\\a\tb\nc\rd\\")).isEqualTo("|\\\\a\\tb\\nc\\rd\\\\|");
    assertThat(copyText("\n\n")).isEqualTo("|\\n\\n|");
  }

  @Test
  void nullIsCopyNullMarker() {
    assertThat(copyText(null)).isEqualTo("|\\N|");
  }
}
