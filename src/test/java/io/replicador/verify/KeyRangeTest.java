package io.replicador.verify;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class KeyRangeTest {
  @Test
  void boundariesCutTheKeySpaceWithOpenEnds() {
    List<KeyRange> ranges = KeyRange.between(List.of(List.of("10"), List.of("20")));
    assertThat(ranges)
        .containsExactly(
            new KeyRange(null, List.of("10")),
            new KeyRange(List.of("10"), List.of("20")),
            new KeyRange(List.of("20"), null));
    assertThat(KeyRange.between(List.of())).containsExactly(KeyRange.ALL);
  }

  @Test
  void splitsAtTheMiddleKey() {
    KeyRange r = new KeyRange(List.of("1", "a"), null);
    assertThat(r.splitAt(List.of("5", "b")))
        .containsExactly(
            new KeyRange(List.of("1", "a"), List.of("5", "b")),
            new KeyRange(List.of("5", "b"), null));
  }
}
