package io.replicador.change;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TableNameTest {

  @Test
  void unquotedPartsFoldToLowerCase() {
    assertThat(TableName.parse("Sales.Orders")).isEqualTo(TableName.of("sales", "orders"));
  }

  @Test
  void singlePartDefaultsToPublicSchema() {
    assertThat(TableName.parse("Orders")).isEqualTo(TableName.of("public", "orders"));
  }

  @Test
  void surroundingWhitespaceIsIgnored() {
    assertThat(TableName.parse("  app.users \t")).isEqualTo(TableName.of("app", "users"));
  }

  @Test
  void quotedPartsKeepCaseSpacesAndDoubledQuotes() {
    assertThat(TableName.parse("\"Sales Data\".\"Odd \"\"Table\"\" Name\""))
        .isEqualTo(TableName.of("Sales Data", "Odd \"Table\" Name"));
  }

  @Test
  void quotedPartMayHoldDotsAndCommas() {
    assertThat(TableName.parse("\"a.b\".\"c,d\"")).isEqualTo(TableName.of("a.b", "c,d"));
  }

  @Test
  void quotedAndUnquotedPartsMix() {
    assertThat(TableName.parse("Sales.\"MixedCase\""))
        .isEqualTo(TableName.of("sales", "MixedCase"));
    assertThat(TableName.parse("\"Sales\".Orders")).isEqualTo(TableName.of("Sales", "orders"));
  }

  @Test
  void quotedSinglePartDefaultsToPublic() {
    assertThat(TableName.parse("\"Users\"")).isEqualTo(TableName.of("public", "Users"));
  }

  @Test
  void lowerCasingDoesNotDependOnDefaultLocale() {
    // Turkish locale would turn I into a dotless i; names must fold with Locale.ROOT
    java.util.Locale saved = java.util.Locale.getDefault();
    try {
      java.util.Locale.setDefault(java.util.Locale.forLanguageTag("tr-TR"));
      assertThat(TableName.parse("ITEMS").name()).isEqualTo("items");
    } finally {
      java.util.Locale.setDefault(saved);
    }
  }

  @Test
  void rejectsThreeParts() {
    assertThatThrownBy(() -> TableName.parse("db.app.users"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("db.app.users")
        .hasMessageContaining("3 parts");
  }

  @Test
  void rejectsUnclosedQuote() {
    assertThatThrownBy(() -> TableName.parse("app.\"users"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unclosed quote");
  }

  @Test
  void rejectsEmptyParts() {
    assertThatThrownBy(() -> TableName.parse(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("empty");
    assertThatThrownBy(() -> TableName.parse("app."))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ends with a dot");
    assertThatThrownBy(() -> TableName.parse(".users"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("empty part");
    assertThatThrownBy(() -> TableName.parse("app.\"\""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("empty quoted part");
  }

  @Test
  void rejectsSpaceOrQuoteOutsideQuotes() {
    assertThatThrownBy(() -> TableName.parse("my table"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("outside quotes");
    assertThatThrownBy(() -> TableName.parse("ab\"c\""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("outside quotes");
  }

  @Test
  void rejectsTextAfterQuotedPart() {
    assertThatThrownBy(() -> TableName.parse("\"app\"x.users"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("text after a quoted part");
  }

  @Test
  void parseListSplitsOnCommasOutsideQuotes() {
    assertThat(TableName.parseList("a.b, \"X,Y\".\"p, q\" ,C"))
        .containsExactly(
            TableName.of("a", "b"), TableName.of("X,Y", "p, q"), TableName.of("public", "c"));
  }

  @Test
  void parseListHandlesDoubledQuotesNextToCommas() {
    assertThat(TableName.parseList("\"a\"\",b\",c"))
        .containsExactly(TableName.of("public", "a\",b"), TableName.of("public", "c"));
  }

  @Test
  void parseListSkipsBlankEntries() {
    assertThat(TableName.parseList(" , a,, b ,"))
        .containsExactly(TableName.of("public", "a"), TableName.of("public", "b"));
    assertThat(TableName.parseList("")).isEmpty();
  }

  @Test
  void parseListReportsBadEntry() {
    assertThatThrownBy(() -> TableName.parseList("a, \"b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unclosed quote");
  }

  @Test
  void quotedGivesSqlSpelling() {
    assertThat(TableName.of("public", "users").quoted()).isEqualTo("\"public\".\"users\"");
    assertThat(TableName.of("Sales Data", "Odd \"Table\" Name").quoted())
        .isEqualTo("\"Sales Data\".\"Odd \"\"Table\"\" Name\"");
  }

  @Test
  void quotedFormParsesBackToSameName() {
    TableName name = TableName.of("Sales.Data", "Odd \"Table\", Name");
    assertThat(TableName.parse(name.quoted())).isEqualTo(name);
    assertThat(TableName.parseList(name + "," + name)).containsExactly(name, name);
  }

  @Test
  void toStringIsQuotedForm() {
    assertThat(TableName.of("App", "t")).hasToString("\"App\".\"t\"");
  }

  @Test
  void ordersBySchemaThenName() {
    assertThat(TableName.of("a", "z")).isLessThan(TableName.of("b", "a"));
    assertThat(TableName.of("a", "a")).isLessThan(TableName.of("a", "b"));
    assertThat(TableName.of("a", "a").compareTo(TableName.of("a", "a"))).isZero();
  }
}
