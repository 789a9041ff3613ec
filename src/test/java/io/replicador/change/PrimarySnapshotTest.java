package io.replicador.change;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PrimarySnapshotTest {
  @Test
  void includesWhatCommittedBeforeAndNothingInProgressOrLater() {
    PrimarySnapshot s = PrimarySnapshot.parse("100:105:101,103");
    assertThat(s.includes("99")).isTrue();
    assertThat(s.includes("100")).isTrue();
    assertThat(s.includes("101")).isFalse();
    assertThat(s.includes("102")).isTrue();
    assertThat(s.includes("103")).isFalse();
    assertThat(s.includes("104")).isTrue();
    assertThat(s.includes("105")).isFalse();
    assertThat(s.includes("4294967396")).isFalse();
  }

  @Test
  void aSnapshotWithNothingInProgressAndIdsPastTheFirstEpoch() {
    PrimarySnapshot s = PrimarySnapshot.parse("4294967396:4294967400:");
    assertThat(s.includes("4294967399")).isTrue();
    assertThat(s.includes("4294967400")).isFalse();
    assertThat(s.toString()).isEqualTo("4294967396:4294967400:");
  }

  @Test
  void aTransactionWithoutANumericIdIsNeverTakenAsCopied() {
    PrimarySnapshot s = PrimarySnapshot.parse("100:105:");
    assertThat(s.includes(null)).isFalse();
    assertThat(s.includes("")).isFalse();
    assertThat(s.includes("abc")).isFalse();
  }

  @Test
  void refusesWhatIsNotASnapshot() {
    assertThatThrownBy(() -> PrimarySnapshot.parse("100:105"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PrimarySnapshot.parse("a:b:"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
