package io.replicador.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleFunction;

/**
 * One figure per round of a benchmark. Ratios pair rounds: the figure of a round over the other
 * one's in the same round, which were measured minutes apart at most. Not thread-safe.
 */
final class Rounds {
  private final List<Double> values = new ArrayList<>();

  void add(double v) {
    values.add(v);
  }

  /** Round by round, this figure over {@code other}'s. */
  Rounds over(Rounds other) {
    Rounds r = new Rounds();
    for (int i = 0; i < Math.min(values.size(), other.values.size()); i++) {
      r.add(other.values.get(i) == 0 ? 0 : values.get(i) / other.values.get(i));
    }
    return r;
  }

  double median() {
    List<Double> sorted = values.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  /** The median, and with more than one round the lowest and highest in brackets. */
  String summary() {
    return summary(Rounds::fmt, "");
  }

  String summaryAsRatio() {
    return summary(v -> String.format(Locale.ROOT, "%.2f", v), "x");
  }

  private String summary(DoubleFunction<String> f, String unit) {
    if (values.isEmpty()) {
      return "-";
    }
    String median = f.apply(median()) + unit;
    if (values.size() == 1) {
      return median;
    }
    double low = values.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    double high = values.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    return median + " [" + f.apply(low) + ", " + f.apply(high) + "]";
  }

  /** A figure as the tables print it: whole numbers from 100 on, else two decimals. */
  static String fmt(double v) {
    if (Math.abs(v) >= 100) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    return String.format(Locale.ROOT, "%.2f", v);
  }
}
