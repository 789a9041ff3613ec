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
    List<String> fields = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quotedOrEscaped = false;
    boolean inQuotes = false;
    for (int i = 1; i < n - 1; i++) {
      char c = text.charAt(i);
      if (c == '\\' && i + 1 < n - 1) {
        field.append(text.charAt(++i));
        quotedOrEscaped = true;
      } else if (c == '"') {
        if (inQuotes && i + 1 < n - 1 && text.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else {
          inQuotes = !inQuotes;
          quotedOrEscaped = true;
        }
      } else if (c == ',' && !inQuotes) {
        fields.add(field.length() == 0 && !quotedOrEscaped ? null : field.toString());
        field.setLength(0);
        quotedOrEscaped = false;
      } else {
        field.append(c);
      }
    }
    if (inQuotes) {
      throw new IllegalArgumentException("Row literal has an unclosed quote");
    }
    fields.add(field.length() == 0 && !quotedOrEscaped ? null : field.toString());
    return fields;
  }
}
