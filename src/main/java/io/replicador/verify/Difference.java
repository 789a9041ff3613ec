package io.replicador.verify;

import io.replicador.change.Identifiers;
import java.util.List;
import java.util.stream.Collectors;

/** A row that differs between primary and replica, named by its key. */
public record Difference(Kind kind, List<String> keyColumns, List<String> key) {
  /** How the replica's row differs from the primary's. */
  public enum Kind {
    /** On both, with different values. */
    CHANGED,
    /** On the primary, not on the replica. */
    MISSING,
    /** On the replica, not on the primary. */
    EXTRA;

    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public Difference {
    keyColumns = List.copyOf(keyColumns);
    key = List.copyOf(key);
  }

  /** The key as PostgreSQL shows it in errors: {@code (a, "B")=(1, x)}. */
  public String keyText() {
    return "("
        + keyColumns.stream().map(Identifiers::quote).collect(Collectors.joining(", "))
        + ")=("
        + key.stream().map(v -> v == null ? "NULL" : v).collect(Collectors.joining(", "))
        + ")";
  }
}
