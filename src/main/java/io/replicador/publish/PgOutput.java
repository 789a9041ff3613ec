package io.replicador.publish;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The messages of PostgreSQL's built-in {@code pgoutput} plugin, protocol version 1 (the logical
 * replication message formats of the PostgreSQL documentation), read from one CopyData payload.
 * Values stay in the payload's buffer as slices until asked for, so a large value is never copied
 * before its pieces are made. Pure; a decoded message is valid while its buffer is.
 */
final class PgOutput {
  private PgOutput() {}

  /** A decoded message. */
  sealed interface Message
      permits Begin,
          Commit,
          RelationMessage,
          Insert,
          Update,
          Delete,
          Truncate,
          LogicalMessage,
          Ignored {}

  /**
   * @param xid the 32-bit transaction id
   */
  record Begin(long finalLsn, long xid) implements Message {}

  /**
   * @param endLsn where the next transaction's WAL begins: the position to confirm once shipped
   */
  record Commit(long commitLsn, long endLsn) implements Message {}

  /** A column of a relation: its name and type, whether it belongs to the replica identity. */
  record Column(String name, long typeOid, boolean identity) {}

  record RelationMessage(int relid, String schema, String name, char identity, List<Column> columns)
      implements Message {}

  /** One column's value in a tuple. */
  record Value(Kind kind, ByteBuffer text) {
    enum Kind {
      NULL,
      /** an unchanged TOASTed value of an UPDATE: pgoutput leaves it out */
      UNCHANGED,
      TEXT
    }

    /** The whole value as a string (for values that are not large). */
    String string() {
      ByteBuffer b = text.duplicate();
      if (b.hasArray()) {
        return new String(
            b.array(), b.arrayOffset() + b.position(), b.remaining(), StandardCharsets.UTF_8);
      }
      byte[] bytes = new byte[b.remaining()];
      b.get(bytes);
      return new String(bytes, StandardCharsets.UTF_8);
    }
  }

  record Insert(int relid, List<Value> newTuple) implements Message {}

  /**
   * @param oldTuple the old key ('K', only when a key column changed) or old row ('O', replica
   *     identity FULL); null when neither was sent
   */
  record Update(int relid, List<Value> oldTuple, List<Value> newTuple) implements Message {}

  record Delete(int relid, List<Value> oldTuple) implements Message {}

  record Truncate(List<Integer> relids) implements Message {}

  /** A message written with {@code pg_logical_emit_message}. */
  record LogicalMessage(boolean transactional, long lsn, String prefix, String content)
      implements Message {}

  /** Origin and type messages: nothing to ship. */
  record Ignored(char tag) implements Message {}

  static Message decode(ByteBuffer buffer) {
    ByteBuffer b = buffer.slice();
    char tag = (char) b.get();
    return switch (tag) {
      case 'B' -> {
        long finalLsn = b.getLong();
        b.getLong(); // commit timestamp
        yield new Begin(finalLsn, Integer.toUnsignedLong(b.getInt()));
      }
      case 'C' -> {
        b.get(); // flags
        long commitLsn = b.getLong();
        long endLsn = b.getLong();
        yield new Commit(commitLsn, endLsn);
      }
      case 'R' -> {
        int relid = b.getInt();
        String schema = cString(b);
        String name = cString(b);
        char identity = (char) b.get();
        int n = Short.toUnsignedInt(b.getShort());
        List<Column> columns = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          boolean key = (b.get() & 1) != 0;
          String column = cString(b);
          long type = Integer.toUnsignedLong(b.getInt());
          b.getInt(); // type modifier
          columns.add(new Column(column, type, key));
        }
        yield new RelationMessage(
            relid, schema.isEmpty() ? "pg_catalog" : schema, name, identity, columns);
      }
      case 'I' -> {
        int relid = b.getInt();
        expect(b, 'N');
        yield new Insert(relid, tuple(b));
      }
      case 'U' -> {
        int relid = b.getInt();
        char next = (char) b.get();
        List<Value> old = null;
        if (next == 'K' || next == 'O') {
          old = tuple(b);
          next = (char) b.get();
        }
        if (next != 'N') {
          throw new IllegalArgumentException(
              "pgoutput UPDATE without a new tuple ('" + next + "')");
        }
        yield new Update(relid, old, tuple(b));
      }
      case 'D' -> {
        int relid = b.getInt();
        char kind = (char) b.get();
        if (kind != 'K' && kind != 'O') {
          throw new IllegalArgumentException(
              "pgoutput DELETE without an old tuple ('" + kind + "')");
        }
        yield new Delete(relid, tuple(b));
      }
      case 'T' -> {
        int n = b.getInt();
        b.get(); // options: CASCADE and RESTART IDENTITY act on the primary's side
        List<Integer> relids = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          relids.add(b.getInt());
        }
        yield new Truncate(relids);
      }
      case 'M' -> {
        boolean transactional = (b.get() & 1) != 0;
        long lsn = b.getLong();
        String prefix = cString(b);
        byte[] content = new byte[b.getInt()];
        b.get(content);
        yield new LogicalMessage(
            transactional, lsn, prefix, new String(content, StandardCharsets.UTF_8));
      }
      case 'O', 'Y' -> new Ignored(tag);
      default ->
          throw new IllegalArgumentException(
              "Unknown pgoutput message '" + tag + "'; is the slot's plugin pgoutput?");
    };
  }

  private static void expect(ByteBuffer b, char tag) {
    char got = (char) b.get();
    if (got != tag) {
      throw new IllegalArgumentException("pgoutput: expected '" + tag + "', got '" + got + "'");
    }
  }

  private static List<Value> tuple(ByteBuffer b) {
    int n = Short.toUnsignedInt(b.getShort());
    List<Value> values = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      char kind = (char) b.get();
      switch (kind) {
        case 'n' -> values.add(new Value(Value.Kind.NULL, null));
        case 'u' -> values.add(new Value(Value.Kind.UNCHANGED, null));
        case 't' -> {
          int length = b.getInt();
          ByteBuffer text = b.slice(b.position(), length);
          b.position(b.position() + length);
          values.add(new Value(Value.Kind.TEXT, text));
        }
        default ->
            throw new IllegalArgumentException(
                "pgoutput: unexpected value kind '" + kind + "' (binary mode is not asked for)");
      }
    }
    return values;
  }

  private static String cString(ByteBuffer b) {
    int start = b.position();
    int end = start;
    while (b.get(end) != 0) {
      end++;
    }
    byte[] bytes = new byte[end - start];
    b.get(bytes);
    b.get(); // the terminator
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
