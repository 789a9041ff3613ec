package io.replicador.capture;

import io.replicador.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a schema change given to {@code replicador ddl} is and which table it concerns, read from
 * its text without running it: the kinds Replicador records ({@link Kind}) and the one table each
 * names. Everything else is refused with a {@link ConfigException} saying why, before anything
 * runs. Names come as written (schema optional): the caller resolves them in the primary's catalog.
 * Pure logic; immutable.
 *
 * @param kind what the statement does
 * @param target the table it changes, creates, drops or indexes
 * @param renamedTo for {@code ALTER TABLE ... RENAME TO}, the new name (same schema); else null
 */
public record DdlStatement(Kind kind, Name target, String renamedTo) {

  /** The statements recorded in the stream. */
  public enum Kind {
    ALTER_TABLE,
    CREATE_TABLE,
    DROP_TABLE,
    CREATE_INDEX
  }

  /**
   * A table name as written.
   *
   * @param schema null when unqualified (the primary's search_path decides)
   */
  public record Name(String schema, String name) {
    @Override
    public String toString() {
      return schema == null ? name : schema + "." + name;
    }
  }

  /** The longest statement recorded: it travels in one message, as one changelog value. */
  public static final int MAX_CHARS = 64 * 1024;

  /** Reads the statement; throws a {@link ConfigException} naming what is refused and why. */
  public static DdlStatement classify(String sql) {
    if (sql.length() > MAX_CHARS) {
      throw new ConfigException(
          "The statement is "
              + sql.length()
              + " characters long; ddl records statements of up to "
              + MAX_CHARS);
    }
    List<Token> tokens = Token.read(sql);
    int end = tokens.size();
    while (end > 0 && tokens.get(end - 1).is(";")) {
      end--;
    }
    for (int i = 0; i < end; i++) {
      if (tokens.get(i).is(";")) {
        throw new ConfigException(
            "ddl runs one statement at a time; run each of the statements separated by ';' on"
                + " its own");
      }
    }
    tokens = tokens.subList(0, end);
    if (tokens.isEmpty()) {
      throw new ConfigException(
          "The statement is empty; give ddl an ALTER TABLE, CREATE TABLE,"
              + " DROP TABLE or CREATE INDEX statement");
    }
    Cursor c = new Cursor(tokens);
    if (c.accept("alter")) {
      c.expect("table", "ALTER TABLE");
      c.accept("if", "exists");
      c.accept("only");
      if (c.peekWord("all")) {
        throw refused("ALTER TABLE ALL IN TABLESPACE");
      }
      Name target = c.name();
      String renamedTo = null;
      if (c.accept("rename", "to")) {
        renamedTo = c.identifier();
      } else if (c.contains("set", "schema")) {
        throw new ConfigException(
            "ALTER TABLE ... SET SCHEMA is not recorded by ddl: a table moved out of its schema"
                + " would change capture's table list; create the table in the new schema instead");
      }
      return new DdlStatement(Kind.ALTER_TABLE, target, renamedTo);
    }
    if (c.accept("create")) {
      if (c.accept("unlogged") || c.peekWord("table")) {
        c.expect("table", "CREATE TABLE");
        c.accept("if", "not", "exists");
        Name target = c.name();
        if (c.containsTopLevel("as")) {
          throw new ConfigException(
              "CREATE TABLE ... AS is not recorded by ddl: its rows would not reach the replicas;"
                  + " create the table, then INSERT ... SELECT into it");
        }
        return new DdlStatement(Kind.CREATE_TABLE, target, null);
      }
      if (c.peekWord("temp") || c.peekWord("temporary") || c.peekWord("local")) {
        throw new ConfigException(
            "A temporary table is not replicated; run that statement without ddl");
      }
      c.accept("unique");
      if (c.accept("index")) {
        if (c.peekWord("concurrently")) {
          throw new ConfigException(
              "CREATE INDEX CONCURRENTLY cannot run inside the transaction that records it;"
                  + " leave out CONCURRENTLY (the table is locked against writes while the index"
                  + " builds)");
        }
        if (!c.skipTo("on")) {
          throw new ConfigException("CREATE INDEX names no table (ON table); check the statement");
        }
        c.accept("only");
        return new DdlStatement(Kind.CREATE_INDEX, c.name(), null);
      }
      throw refused("CREATE " + c.peekText());
    }
    if (c.accept("drop")) {
      c.expect("table", "DROP TABLE");
      c.accept("if", "exists");
      Name target = c.name();
      if (c.peek(",")) {
        throw new ConfigException("ddl drops one table at a time; run one DROP TABLE per table");
      }
      return new DdlStatement(Kind.DROP_TABLE, target, null);
    }
    throw refused(c.peekText().toUpperCase(Locale.ROOT));
  }

  private static ConfigException refused(String what) {
    return new ConfigException(
        what.strip()
            + " is not a schema change ddl records; it records ALTER TABLE, CREATE TABLE, DROP"
            + " TABLE and CREATE INDEX (run other statements on the primary and each replica"
            + " yourself)");
  }

  /** The tokens left to read. */
  private static final class Cursor {
    private final List<Token> tokens;
    private int at;

    Cursor(List<Token> tokens) {
      this.tokens = tokens;
    }

    /** Consumes the words if they come next, in order; else consumes nothing. */
    boolean accept(String... words) {
      for (int i = 0; i < words.length; i++) {
        if (at + i >= tokens.size() || !tokens.get(at + i).isWord(words[i])) {
          return false;
        }
      }
      at += words.length;
      return true;
    }

    boolean peekWord(String word) {
      return at < tokens.size() && tokens.get(at).isWord(word);
    }

    boolean peek(String punctuation) {
      return at < tokens.size() && tokens.get(at).is(punctuation);
    }

    String peekText() {
      return at < tokens.size() ? tokens.get(at).text : "";
    }

    void expect(String word, String what) {
      if (!accept(word)) {
        throw refused(what.substring(0, what.indexOf(' ') + 1) + peekText());
      }
    }

    /** Whether the words come in order, one after the other, anywhere further on. */
    boolean contains(String... words) {
      for (int i = at; i + words.length <= tokens.size(); i++) {
        boolean all = true;
        for (int k = 0; k < words.length && all; k++) {
          all = tokens.get(i + k).isWord(words[k]);
        }
        if (all) {
          return true;
        }
      }
      return false;
    }

    /** Whether the word comes further on outside parentheses. */
    boolean containsTopLevel(String word) {
      int depth = 0;
      for (int i = at; i < tokens.size(); i++) {
        Token t = tokens.get(i);
        if (t.is("(")) {
          depth++;
        } else if (t.is(")")) {
          depth--;
        } else if (depth == 0 && t.isWord(word)) {
          return true;
        }
      }
      return false;
    }

    /** Moves past the next top-level occurrence of the word; false when there is none. */
    boolean skipTo(String word) {
      int depth = 0;
      for (int i = at; i < tokens.size(); i++) {
        Token t = tokens.get(i);
        if (t.is("(")) {
          depth++;
        } else if (t.is(")")) {
          depth--;
        } else if (depth == 0 && t.isWord(word)) {
          at = i + 1;
          return true;
        }
      }
      return false;
    }

    String identifier() {
      if (at >= tokens.size() || tokens.get(at).kind == Token.Kind.OTHER) {
        throw new ConfigException(
            "Expected a table name after '"
                + (at > 0 ? tokens.get(at - 1).text : "")
                + "'; check the statement");
      }
      Token t = tokens.get(at++);
      if (t.kind == Token.Kind.PUNCTUATION) {
        throw new ConfigException(
            "Expected a table name, found '" + t.text + "'; check the statement");
      }
      return t.identifier();
    }

    Name name() {
      String first = identifier();
      if (peek(".")) {
        at++;
        String second = identifier();
        if (peek(".")) {
          throw new ConfigException(
              "Table names with a database part are not supported; write schema.table");
        }
        return new Name(first, second);
      }
      return new Name(null, first);
    }
  }

  /** A lexical token of SQL: a word, a quoted identifier, punctuation, or anything else. */
  private record Token(Kind kind, String text) {
    enum Kind {
      WORD,
      QUOTED,
      PUNCTUATION,
      OTHER
    }

    boolean isWord(String word) {
      return kind == Kind.WORD && text.toLowerCase(Locale.ROOT).equals(word);
    }

    boolean is(String punctuation) {
      return kind == Kind.PUNCTUATION && text.equals(punctuation);
    }

    /** The identifier it spells: unquoted words fold to lower case, as PostgreSQL folds them. */
    String identifier() {
      return kind == Kind.QUOTED ? text : text.toLowerCase(Locale.ROOT);
    }

    static List<Token> read(String sql) {
      List<Token> out = new ArrayList<>();
      int i = 0;
      int n = sql.length();
      while (i < n) {
        char ch = sql.charAt(i);
        if (Character.isWhitespace(ch)) {
          i++;
        } else if (ch == '-' && i + 1 < n && sql.charAt(i + 1) == '-') {
          while (i < n && sql.charAt(i) != '\n') {
            i++;
          }
        } else if (ch == '/' && i + 1 < n && sql.charAt(i + 1) == '*') {
          int depth = 0;
          do {
            if (sql.startsWith("/*", i)) {
              depth++;
              i += 2;
            } else if (sql.startsWith("*/", i)) {
              depth--;
              i += 2;
            } else {
              i++;
            }
          } while (depth > 0 && i < n);
        } else if (ch == '"') {
          StringBuilder b = new StringBuilder();
          i++;
          while (true) {
            if (i >= n) {
              throw new ConfigException("A quoted identifier is not closed; check the quotes");
            }
            char q = sql.charAt(i++);
            if (q == '"') {
              if (i < n && sql.charAt(i) == '"') {
                b.append('"');
                i++;
              } else {
                break;
              }
            } else {
              b.append(q);
            }
          }
          out.add(new Token(Kind.QUOTED, b.toString()));
        } else if (ch == '\''
            || ((ch == 'e' || ch == 'E') && i + 1 < n && sql.charAt(i + 1) == '\'')) {
          boolean escapes = ch != '\'';
          i += escapes ? 2 : 1;
          while (true) {
            if (i >= n) {
              throw new ConfigException("A string literal is not closed; check the quotes");
            }
            char q = sql.charAt(i++);
            if (escapes && q == '\\') {
              i++;
            } else if (q == '\'') {
              if (i < n && sql.charAt(i) == '\'') {
                i++;
              } else {
                break;
              }
            }
          }
          out.add(new Token(Kind.OTHER, "'...'"));
        } else if (ch == '$' && dollarTag(sql, i) != null) {
          String tag = dollarTag(sql, i);
          int close = sql.indexOf(tag, i + tag.length());
          if (close < 0) {
            throw new ConfigException("A dollar-quoted string is not closed; check " + tag);
          }
          i = close + tag.length();
          out.add(new Token(Kind.OTHER, "$...$"));
        } else if (Character.isLetter(ch) || ch == '_') {
          int start = i;
          while (i < n
              && (Character.isLetterOrDigit(sql.charAt(i))
                  || sql.charAt(i) == '_'
                  || sql.charAt(i) == '$')) {
            i++;
          }
          out.add(new Token(Kind.WORD, sql.substring(start, i)));
        } else if (".,;()".indexOf(ch) >= 0) {
          out.add(new Token(Kind.PUNCTUATION, String.valueOf(ch)));
          i++;
        } else {
          out.add(new Token(Kind.OTHER, String.valueOf(ch)));
          i++;
        }
      }
      return out;
    }

    /** The dollar-quote tag starting at {@code i} ({@code $$} or {@code $tag$}), or null. */
    private static String dollarTag(String sql, int i) {
      int j = i + 1;
      while (j < sql.length()
          && (Character.isLetterOrDigit(sql.charAt(j)) || sql.charAt(j) == '_')) {
        j++;
      }
      if (j < sql.length()
          && sql.charAt(j) == '$'
          && (j == i + 1 || !Character.isDigit(sql.charAt(i + 1)))) {
        return sql.substring(i, j + 1);
      }
      return null;
    }
  }
}
