package io.replicador.schema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class RecordTextTest {

  @Test
  void readsPlainFields() {
    assertThat(RecordText.parse("(1,abc,2.5)")).containsExactly("1", "abc", "2.5");
  }

  @Test
  void emptyUnquotedFieldIsNull() {
    assertThat(RecordText.parse("(1,,3)")).containsExactly("1", null, "3");
    assertThat(RecordText.parse("(,)")).containsExactly(null, null);
    assertThat(RecordText.parse("(1,)")).containsExactly("1", null);
  }

  @Test
  void quotedEmptyFieldIsEmptyString() {
    assertThat(RecordText.parse("(\"\",x)")).containsExactly("", "x");
    assertThat(RecordText.parse("(x,\"\")")).containsExactly("x", "");
  }

  @Test
  void doubledQuoteInsideQuotesIsOneQuote() {
    assertThat(RecordText.parse("(\"x\"\"y\")")).containsExactly("x\"y");
    assertThat(RecordText.parse("(\"\"\"\")")).containsExactly("\"");
  }

  @Test
  void backslashTakesNextCharacterLiterally() {
    assertThat(RecordText.parse("(\"a\\\\b\",\"c\\\"d\")")).containsExactly("a\\b", "c\"d");
  }

  @Test
  void quotesAndBackslashesMayStartMidField() {
    assertThat(RecordText.parse("(ab\"c,d\"e,f)")).containsExactly("abc,de", "f");
    assertThat(RecordText.parse("(a\\,b,c)")).containsExactly("a,b", "c");
    assertThat(RecordText.parse("(x,a\\)")).containsExactly("x", "a\\");
  }

  @Test
  void quotedFieldsKeepCommasParenthesesAndSpaces() {
    assertThat(RecordText.parse("(\"a, b\",\"(x)\",\" lead\",\"trail \")"))
        .containsExactly("a, b", "(x)", " lead", "trail ");
  }

  @Test
  void singleColumnRow() {
    assertThat(RecordText.parse("(42)")).containsExactly("42");
    assertThat(RecordText.parse("(\"\")")).containsExactly("");
  }

  @Test
  void singleNullColumnRow() {
    assertThat(RecordText.parse("()")).isEqualTo(Arrays.asList((String) null));
  }

  @Test
  void nestedCompositeComesBackAsItsOwnRecordText() {
    assertThat(RecordText.parse("(1,\"(2,x)\")")).containsExactly("1", "(2,x)");
  }

  @Test
  void nestedCompositeWithQuotedInnerFieldParsesInTwoSteps() {
    // row(1, row(2, 'x"y, z')): the inner record_out is (2,"x""y, z"), quoted again outside
    String outer = "(1,\"(2,\"\"x\"\"\"\"y, z\"\")\")";
    assertThat(RecordText.parse(outer)).containsExactly("1", "(2,\"x\"\"y, z\")");
    assertThat(RecordText.parse(RecordText.parse(outer).get(1))).containsExactly("2", "x\"y, z");
  }

  @Test
  void realisticRowWithArraysJsonAndTimestamps() {
    assertThat(
            RecordText.parse(
                "(7,\"{1,2,3}\",\"{\"\"k\"\": \"\"v\"\"}\",\"2024-01-02 03:04:05+00\",t,)"))
        .containsExactly("7", "{1,2,3}", "{\"k\": \"v\"}", "2024-01-02 03:04:05+00", "t", null);
  }

  @Test
  void rejectsTextThatIsNotARow() {
    assertThatThrownBy(() -> RecordText.parse("1,2"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("Not a row literal");
    assertThatThrownBy(() -> RecordText.parse("(")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RecordText.parse("")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void rejectsUnclosedQuote() {
    assertThatThrownBy(() -> RecordText.parse("(1,\"abc)"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unclosed quote");
  }
}
