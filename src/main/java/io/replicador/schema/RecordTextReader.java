package io.replicador.schema;

import java.io.Reader;

/**
 * Reads PostgreSQL's text form of a row ({@code record_out}) as a stream, by the rules of {@link
 * RecordText}, handing each field's characters on as they are read: a row of any size is read
 * without holding it, or any of its fields, whole. Not thread-safe; one row per instance.
 */
public final class RecordTextReader {
  private static final int BUFFER = 1 << 16;

  /** Receives the fields of a row, in order, counted from 0. */
  public interface FieldSink {
    /** Characters of field {@code field}, in order; a field may come in many calls. */
    void chars(int field, char[] chars, int offset, int length) throws Exception;

    /** The field ended; {@code sqlNull} when it was an unquoted empty field. */
    void end(int field, boolean sqlNull) throws Exception;
  }

  private final FieldSink sink;
  private final char[] out;
  private int outLength;
  private int field;

  /** Whether the field so far had a quote or backslash: an empty field is then "", not NULL. */
  private boolean marked;

  private boolean inQuotes;
  private boolean escaped;

  /** A quote inside quotes: a doubled quote if the next character is one, else the closing one. */
  private boolean quoteSeen;

  private RecordTextReader(FieldSink sink, int bufferChars) {
    this.sink = sink;
    this.out = new char[bufferChars];
  }

  /** Reads one row literal from {@code in} to its end; returns the number of fields. */
  public static int read(Reader in, FieldSink sink) throws Exception {
    return read(in, sink, BUFFER);
  }

  /** As {@link #read(Reader, FieldSink)}, handing on at most {@code bufferChars} at a time. */
  static int read(Reader in, FieldSink sink, int bufferChars) throws Exception {
    return new RecordTextReader(sink, bufferChars).run(in);
  }

  private int run(Reader in) throws Exception {
    char[] buffer = new char[out.length];
    int first = in.read();
    if (first != '(') {
      throw new IllegalArgumentException("Not a row literal: must start with ( and end with )");
    }
    // each character is taken once the next is known, so that the last one can be told apart
    int pending = -1;
    int n;
    while ((n = in.read(buffer)) >= 0) {
      for (int i = 0; i < n; i++) {
        if (pending >= 0) {
          take((char) pending);
        }
        pending = buffer[i];
      }
    }
    if (pending != ')') {
      throw new IllegalArgumentException("Not a row literal: must start with ( and end with )");
    }
    if (quoteSeen) {
      quoteSeen = false;
      inQuotes = false;
    }
    if (inQuotes || escaped) {
      throw new IllegalArgumentException("Row literal has an unclosed quote");
    }
    endField();
    return field;
  }

  private void take(char c) throws Exception {
    if (quoteSeen) {
      quoteSeen = false;
      if (c == '"') {
        append('"');
        return;
      }
      inQuotes = false;
    }
    if (escaped) {
      escaped = false;
      append(c);
    } else if (c == '\\') {
      escaped = true;
      marked = true;
    } else if (c == '"') {
      if (inQuotes) {
        quoteSeen = true;
      } else {
        inQuotes = true;
        marked = true;
      }
    } else if (c == ',' && !inQuotes) {
      endField();
    } else {
      append(c);
    }
  }

  private void append(char c) throws Exception {
    if (outLength == out.length) {
      sink.chars(field, out, 0, outLength);
      outLength = 0;
      marked = true; // characters went out: not an empty field
    }
    out[outLength++] = c;
  }

  private void endField() throws Exception {
    boolean sqlNull = outLength == 0 && !marked;
    if (outLength > 0) {
      sink.chars(field, out, 0, outLength);
      outLength = 0;
    }
    sink.end(field, sqlNull);
    field++;
    marked = false;
  }
}
