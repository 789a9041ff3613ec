package io.replicador.verify;

import java.util.ArrayList;
import java.util.List;

/**
 * A range of primary-key values, lower bound inclusive and upper bound exclusive, each the key's
 * column values as text; a null bound is open. Immutable.
 */
public record KeyRange(List<String> lower, List<String> upper) {
  public static final KeyRange ALL = new KeyRange(null, null);

  public KeyRange {
    lower = lower == null ? null : List.copyOf(lower);
    upper = upper == null ? null : List.copyOf(upper);
  }

  /**
   * The ranges that boundaries (ascending keys) cut the key space into: before the first, between
   * each pair, from the last on. No boundaries give the one range of all keys.
   */
  public static List<KeyRange> between(List<List<String>> boundaries) {
    List<KeyRange> ranges = new ArrayList<>(boundaries.size() + 1);
    List<String> previous = null;
    for (List<String> b : boundaries) {
      ranges.add(new KeyRange(previous, b));
      previous = b;
    }
    ranges.add(new KeyRange(previous, null));
    return ranges;
  }

  /** The two halves at {@code middle}: [lower, middle) and [middle, upper). */
  public List<KeyRange> splitAt(List<String> middle) {
    return List.of(new KeyRange(lower, middle), new KeyRange(middle, upper));
  }

  @Override
  public String toString() {
    return "[" + (lower == null ? "-inf" : lower) + ", " + (upper == null ? "+inf" : upper) + ")";
  }
}
