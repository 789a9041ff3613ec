package io.replicador.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Finds passwords in address text (PostgreSQL and AMQP URIs, JDBC URLs, libpq key=value strings) so
 * that messages and printed commands can leave them out. Stateless.
 *
 * <p>The password of a URI is what follows the first {@code :} of the user info, up to the last
 * {@code @} before the query, the same split {@link PostgresAddress} makes when it parses: a
 * password that holds {@code @} unencoded is hidden whole rather than half. A {@code password}
 * parameter (in a query or a key=value string) is one too.
 */
public final class Secrets {
  private static final Pattern PASSWORD_PARAMETER = Pattern.compile("(?i)(password=)[^&\\s]*");

  private Secrets() {}

  /** Whether the text holds a password: user info with a colon, or a password parameter. */
  public static boolean holdsPassword(String text) {
    return text != null
        && (userInfoPassword(text) != null || PASSWORD_PARAMETER.matcher(text).find());
  }

  /** The text with every password replaced by {@code ***}. */
  public static String redact(String text) {
    if (text == null) {
      return null;
    }
    String s = text;
    int[] span = userInfoPassword(s);
    if (span != null) {
      s = s.substring(0, span[0]) + "***" + s.substring(span[1]);
    }
    return PASSWORD_PARAMETER.matcher(s).replaceAll("$1***");
  }

  /**
   * The address with its password left out (the colon before it too, and a {@code password} query
   * parameter), so that it still works with the password given another way.
   */
  public static String withoutPassword(String address) {
    String s = address;
    int[] span = userInfoPassword(s);
    if (span != null) {
      s = s.substring(0, span[0] - 1) + s.substring(span[1]);
    }
    int q = s.indexOf('?');
    if (q < 0) {
      return s;
    }
    List<String> kept = new ArrayList<>();
    for (String pair : s.substring(q + 1).split("&", -1)) {
      if (!pair.isEmpty() && !pair.toLowerCase(Locale.ROOT).startsWith("password=")) {
        kept.add(pair);
      }
    }
    return s.substring(0, q) + (kept.isEmpty() ? "" : "?" + String.join("&", kept));
  }

  /** Start and end of the password in {@code scheme://user:password@host...}, or null. */
  private static int[] userInfoPassword(String s) {
    int scheme = s.indexOf("://");
    if (scheme < 0) {
      return null;
    }
    int start = scheme + 3;
    int q = s.indexOf('?', start);
    int at = s.lastIndexOf('@', q < 0 ? s.length() : q);
    if (at < start) {
      return null;
    }
    int colon = s.indexOf(':', start);
    return colon < 0 || colon > at ? null : new int[] {colon + 1, at};
  }
}
