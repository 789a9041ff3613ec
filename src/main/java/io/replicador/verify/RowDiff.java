package io.replicador.verify;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Compares the rows of one small range, given as key to row hash from each side. Pure. */
public final class RowDiff {
  private RowDiff() {}

  /** Differences, primary's rows first (changed or missing), then the replica's extra rows. */
  public static List<Difference> compare(
      List<String> keyColumns,
      Map<List<String>, String> primary,
      Map<List<String>, String> replica) {
    List<Difference> out = new ArrayList<>();
    for (Map.Entry<List<String>, String> p : primary.entrySet()) {
      String r = replica.get(p.getKey());
      if (r == null) {
        out.add(new Difference(Difference.Kind.MISSING, keyColumns, p.getKey()));
      } else if (!r.equals(p.getValue())) {
        out.add(new Difference(Difference.Kind.CHANGED, keyColumns, p.getKey()));
      }
    }
    for (List<String> key : replica.keySet()) {
      if (!primary.containsKey(key)) {
        out.add(new Difference(Difference.Kind.EXTRA, keyColumns, key));
      }
    }
    return out;
  }
}
