package io.replicador.change;

import java.util.Locale;

/** The kind of a captured row change. The code is what the changelog stores. */
public enum Operation {
  INSERT('I'),
  UPDATE('U'),
  DELETE('D'),
  TRUNCATE('T'),
  /** A piece of a large value of the change that follows (see {@link Change#valuePart}). */
  VALUE('V'),
  /**
   * A schema change (ALTER TABLE, CREATE TABLE, ...) recorded on the primary at its place in the
   * stream (see {@link Change#ddl}); code 'S' in the changelog.
   */
  DDL('S');

  private final char code;
  private final String wireName;

  Operation(char code) {
    this.code = code;
    this.wireName = name().toLowerCase(Locale.ROOT);
  }

  public char code() {
    return code;
  }

  /** The lower-case name used in the message format. */
  public String wireName() {
    return wireName;
  }

  public static Operation fromCode(char code) {
    for (Operation op : values()) {
      if (op.code == code) {
        return op;
      }
    }
    throw new IllegalArgumentException("Unknown operation code '" + code + "'");
  }

  public static Operation fromWireName(String name) {
    for (Operation op : values()) {
      if (op.wireName().equals(name)) {
        return op;
      }
    }
    throw new IllegalArgumentException(
        "Unknown operation \""
            + name
            + "\"; expected insert, update, delete, truncate, value or ddl");
  }
}
