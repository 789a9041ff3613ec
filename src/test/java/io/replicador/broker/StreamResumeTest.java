package io.replicador.broker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class StreamResumeTest {
  private static final String STREAM = "replicador:stream:x";

  @Test
  void aReplicaThatReadNothingStartsAtTheFirstOffset() {
    StreamResume r = StreamResume.FROM_FIRST;

    assertThat(r.startArgument()).isEqualTo("first");
    assertThat(r.expected()).isEqualTo(-1);
    assertThat(r.alreadyProcessed(0)).isFalse();
    assertThat(r.gap(STREAM, 5000)).isNull();
    assertThat(r.recreated(STREAM, OptionalLong.empty())).isNull();
  }

  @Test
  void aSavedOffsetResumesAtTheNextOne() {
    StreamResume r = new StreamResume(41);

    assertThat(r.startArgument()).isEqualTo(42L);
    assertThat(r.alreadyProcessed(41)).isTrue();
    assertThat(r.alreadyProcessed(42)).isFalse();
    assertThat(r.gap(STREAM, 42)).isNull();
  }

  @Test
  void aFirstDeliveryPastTheExpectedOffsetIsAGapDroppedByRetention() {
    String gap = new StreamResume(41).gap(STREAM, 100);

    assertThat(gap)
        .contains("offset 42")
        .contains("dropped by the stream's retention")
        .contains("starts at offset 100");
  }

  @Test
  void aStreamEndingBeforeTheSavedOffsetWasMadeAgain() {
    StreamResume r = new StreamResume(41);

    assertThat(r.recreated(STREAM, OptionalLong.of(41))).isNull();
    assertThat(r.recreated(STREAM, OptionalLong.of(500))).isNull();
    assertThat(r.recreated(STREAM, OptionalLong.of(3)))
        .contains("ends at offset 3")
        .contains("deleted and made again");
    assertThat(r.recreated(STREAM, OptionalLong.empty())).contains("is empty");
  }

  @Test
  void aFreshReplicaNeedsTheSourcesFirstPosition() {
    assertThat(StreamResume.beginningGap(STREAM, 0, "src", 1)).isNull();
    assertThat(StreamResume.beginningGap(STREAM, 7, "src", 40))
        .contains("holds position 40 of source src")
        .contains("dropped by the stream's retention");
  }
}
