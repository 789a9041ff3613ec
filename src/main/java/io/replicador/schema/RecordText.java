package io.replicador.schema;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads PostgreSQL's text form of a row ({@code record_out}): {@code (1,"a b",,"x""y")}.
 *
 * <p>An unquoted empty field is SQL NULL; {@code ""} is the empty string. Inside a field a
 * backslash takes the next character literally and, within quotes, {@code ""} is one quote, the
 * same rules as {@code record_in}. Pure function, thread-safe.
 */
public final class RecordText {
  private RecordText() {}

  public static List<String> parse(String text) {
    int n = text.length();
    if (n < 2 || text.charAt(0) != '(' || text.charAt(n - 1) != ')') {
      throw new IllegalArgumentException("Not a row literal: must start with ( and end with )");
    }
    int end = n - 1; // the closing parenthesis
    List<String> fields = new ArrayList<>();
    int i = 1;
    while (true) {
      // most fields hold neither quotes nor backslashes: they are taken as they stand
      int j = i;
      while (j < end && plain(text.charAt(j))) {
        j++;
      }
      if (j == end || text.charAt(j) == ',') {
        fields.add(j == i ? null : text.substring(i, j));
      } else {
        j = unescape(text, i, end, fields);
      }
      if (j == end) {
        return fields;
      }
      i = j + 1;
    }
  }

  private static boolean plain(char c) {
    return c != ',' && c != '"' && c != '\\';
  }

  /** Adds the field starting at {@code i}; returns where it ends (a comma, or {@code end}). */
  private static int unescape(String text, int i, int end, List<String> fields) {
    StringBuilder field = new StringBuilder();
    boolean quotedOrEscaped = false;
    boolean inQuotes = false;
    for (; i < end; i++) {
      char c = text.charAt(i);
      if (c == '\\' && i + 1 < end) {
        field.append(text.charAt(++i));
        quotedOrEscaped = true;
      } else if (c == '"') {
        if (inQuotes && i + 1 < end && text.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else {
          inQuotes = !inQuotes;
          quotedOrEscaped = true;
        }
      } else if (c == ',' && !inQuotes) {
        break;
      } else {
        field.append(c);
      }
    }
    if (inQuotes) {
      throw new IllegalArgumentException("Row literal has an unclosed quote");
    }
    fields.add(field.length() == 0 && !quotedOrEscaped ? null : field.toString());
    return i;
  }
}
