package io.replicador.change;

/** The one place where SQL identifiers are quoted. */
public final class Identifiers {
  private Identifiers() {}

  /** Double-quotes an identifier, doubling embedded quotes: {@code a"b} becomes {@code "a""b"}. */
  public static String quote(String identifier) {
    if (identifier.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("Identifier contains a NUL character");
    }
    return '"' + identifier.replace("\"", "\"\"") + '"';
  }
}
