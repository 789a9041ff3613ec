package io.replicador.config;

import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/**
 * The known name a mistyped one most likely meant, for "did you mean" hints. Distance counts
 * inserted, deleted, replaced and swapped neighbouring characters, ignoring case; a name counts as
 * near when a third of its characters or fewer (at least one, at most three) differ. Stateless.
 */
public final class NearestName {
  private NearestName() {}

  /** The nearest of {@code names} to {@code typed}, if one is near; ties go to the first. */
  public static Optional<String> among(String typed, Collection<String> names) {
    String t = typed.toLowerCase(Locale.ROOT);
    int limit = Math.max(1, Math.min(3, t.length() / 3));
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String name : names) {
      int d = distance(t, name.toLowerCase(Locale.ROOT));
      if (d <= limit && d < bestDistance) {
        best = name;
        bestDistance = d;
      }
    }
    return Optional.ofNullable(best);
  }

  /** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
  static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1
            && j > 1
            && a.charAt(i - 1) == b.charAt(j - 2)
            && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }
}
