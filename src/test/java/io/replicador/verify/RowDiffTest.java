package io.replicador.verify;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RowDiffTest {
  @Test
  void namesChangedMissingAndExtraRowsByKey() {
    Map<List<String>, String> primary = new LinkedHashMap<>();
    primary.put(List.of("1", "a"), "h1");
    primary.put(List.of("2", "a"), "h2");
    primary.put(List.of("3", "a"), "h3");
    Map<List<String>, String> replica = new LinkedHashMap<>();
    replica.put(List.of("1", "a"), "h1");
    replica.put(List.of("2", "a"), "other");
    replica.put(List.of("4", "b"), "h4");
    List<Difference> d = RowDiff.compare(List.of("k", "Part"), primary, replica);
    assertThat(d)
        .extracting(x -> x.kind().label() + " " + x.keyText())
        .containsExactly(
            "changed (\"k\", \"Part\")=(2, a)",
            "missing (\"k\", \"Part\")=(3, a)",
            "extra (\"k\", \"Part\")=(4, b)");
  }
}
