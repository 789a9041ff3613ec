package io.replicador.codec;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.Relation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON envelope of the change stream (documented in docs/message-format.md): version 1, and
 * version 2 for the messages that carry pieces of large values ({@link Operation#VALUE}), so that
 * a version-1 reader refuses them rather than apply a value it does not know is incomplete.
 *
 * <p>Relations are listed once per message and changes refer to them by index, so a message of a
 * thousand inserts into one table names its columns once. Thread-safe.
 */
public final class ChangeMessageCodec {
  public static final String FORMAT = "replicador";
  public static final int VERSION = 1;
  /** The version of messages with value pieces. */
  public static final int VERSION_VALUE_PARTS = 2;
  public static final String CONTENT_TYPE = "application/vnd.replicador.v1+json";
  public static final String CONTENT_TYPE_VALUE_PARTS = "application/vnd.replicador.v2+json";

  /**
   * Jackson's default limit on one string (20 million characters) would refuse a message from a
   * publisher that sent a large value whole; messages are bounded by the publisher, not here.
   */
  private static final JsonFactory JSON =
      JsonFactory.builder()
          .streamReadConstraints(
              StreamReadConstraints.builder().maxStringLength(Integer.MAX_VALUE).build())
          .build();

  /** The version a message is encoded in. */
  public static int version(ChangeMessage message) {
    for (SourceTransaction tx : message.transactions()) {
      for (Change c : tx.changes()) {
        if (c.op() == Operation.VALUE || !c.chunked().isEmpty()) {
          return VERSION_VALUE_PARTS;
        }
      }
    }
    return VERSION;
  }

  /** The content type of a message, naming its version. */
  public static String contentType(ChangeMessage message) {
    return version(message) == VERSION ? CONTENT_TYPE : CONTENT_TYPE_VALUE_PARTS;
  }

  public byte[] encode(ChangeMessage message) {
    // grows by segments, copied once at the end: no size estimate, no copying while it grows
    ByteArrayBuilder out = new ByteArrayBuilder();
    try (JsonGenerator g = JSON.createGenerator(out)) {
      Map<Relation, Integer> relationIndex = new IdentityHashMap<>();
      List<Relation> relations = new ArrayList<>();
      for (SourceTransaction tx : message.transactions()) {
        for (Change change : tx.changes()) {
          relationIndex.computeIfAbsent(
              change.relation(),
              r -> {
                relations.add(r);
                return relations.size() - 1;
              });
        }
      }
      g.writeStartObject();
      g.writeStringField("format", FORMAT);
      g.writeNumberField("version", version(message));
      g.writeStringField("source", message.source());
      g.writeArrayFieldStart("relations");
      for (Relation r : relations) {
        g.writeStartObject();
        g.writeStringField("schema", r.table().schema());
        g.writeStringField("table", r.table().name());
        writeStrings(g, "columns", r.columns());
        writeStrings(g, "key", r.key());
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeArrayFieldStart("transactions");
      for (SourceTransaction tx : message.transactions()) {
        g.writeStartObject();
        g.writeNumberField("position", tx.position());
        g.writeStringField("xid", tx.xid());
        g.writeNumberField("part", tx.part());
        g.writeBooleanField("last", tx.last());
        g.writeArrayFieldStart("changes");
        for (Change c : tx.changes()) {
          g.writeStartObject();
          g.writeStringField("op", c.op().wireName());
          g.writeNumberField("relation", relationIndex.get(c.relation()));
          if (c.op() == Operation.VALUE) {
            g.writeNumberField("column", c.chunked().get(0));
            g.writeStringField("data", c.values().get(0));
            g.writeEndObject();
            continue;
          }
          if (!c.key().isEmpty()) {
            writeStrings(g, "key", c.key());
          }
          if (!c.values().isEmpty()) {
            writeStrings(g, "values", c.values());
          }
          if (!c.chunked().isEmpty()) {
            g.writeArrayFieldStart("chunked");
            for (int column : c.chunked()) {
              g.writeNumber(column);
            }
            g.writeEndArray();
          }
          g.writeEndObject();
        }
        g.writeEndArray();
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot encode change message", e);
    }
    return out.toByteArray();
  }

  private static void writeStrings(JsonGenerator g, String field, List<String> values)
      throws IOException {
    g.writeArrayFieldStart(field);
    for (int i = 0; i < values.size(); i++) {
      g.writeString(values.get(i)); // null is written as null
    }
    g.writeEndArray();
  }

  /**
   * Decodes a message body, streaming: no tree of the whole message is built. Fields may come in
   * any order; fields this version does not know are skipped.
   *
   * @throws MalformedMessageException naming what is wrong, when the body is not a change message
   *     of a version this reads; {@link MalformedMessageException#ours} when it is one of format
   *     "replicador" that this reader cannot read (a newer version, a limit of its own)
   */
  public ChangeMessage decode(byte[] body) throws MalformedMessageException {
    boolean[] ours = new boolean[1];
    try (JsonParser p = JSON.createParser(body)) {
      return message(p, ours);
    } catch (StreamConstraintsException e) {
      // a limit of this reader, not a fault of the message
      throw new MalformedMessageException(
          "body exceeds a limit of this listener: " + e.getOriginalMessage(), ours[0], null);
    } catch (JsonProcessingException e) {
      throw new MalformedMessageException("body is not JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new MalformedMessageException("body cannot be read: " + e.getMessage(), e);
    }
  }

  private static ChangeMessage message(JsonParser p, boolean[] ours)
      throws IOException, MalformedMessageException {
    if (p.nextToken() != JsonToken.START_OBJECT) {
      throw new MalformedMessageException("body is not a JSON object");
    }
    boolean format = false;
    boolean version = false;
    String source = null;
    List<Relation> relations = null;
    List<Transaction> transactions = null;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken value = p.nextToken();
      switch (field) {
        case "format" -> {
          if (value != JsonToken.VALUE_STRING || !FORMAT.equals(p.getText())) {
            throw new MalformedMessageException("field \"format\" is not \"" + FORMAT + "\"");
          }
          format = true;
          ours[0] = true;
        }
        case "version" -> {
          if (value != JsonToken.VALUE_NUMBER_INT
              || p.getNumberType() != JsonParser.NumberType.INT
              || (p.getIntValue() != VERSION && p.getIntValue() != VERSION_VALUE_PARTS)) {
            String seen = value == JsonToken.VALUE_STRING ? '"' + p.getText() + '"' : p.getText();
            MalformedMessageException e = unsupportedVersion(seen);
            // a change message of another version, once its format said so
            throw ours[0] ? e.asOurs() : e;
          }
          version = true;
        }
        case "source" -> source = text(p, field);
        case "relations" -> relations = relations(p);
        case "transactions" -> transactions = transactions(p);
        default -> p.skipChildren();
      }
    }
    if (!format) {
      throw new MalformedMessageException("field \"format\" is not \"" + FORMAT + "\"");
    }
    if (!version) {
      throw unsupportedVersion("(none)");
    }
    if (source == null) {
      throw missing("source", "a string");
    }
    if (relations == null) {
      throw missing("relations", "an array");
    }
    if (transactions == null) {
      throw missing("transactions", "an array");
    }
    List<SourceTransaction> resolved = new ArrayList<>(transactions.size());
    for (Transaction t : transactions) {
      resolved.add(t.resolve(relations));
    }
    return new ChangeMessage(source, resolved);
  }

  private static MalformedMessageException unsupportedVersion(String version) {
    return new MalformedMessageException(
        "unsupported version " + version + "; this listener reads versions " + VERSION + " and "
            + VERSION_VALUE_PARTS + ": upgrade it");
  }

  private static MalformedMessageException missing(String field, String what) {
    return new MalformedMessageException(
        "field \"" + field + "\" is missing or not " + what);
  }

  private static List<Relation> relations(JsonParser p)
      throws IOException, MalformedMessageException {
    startArray(p, "relations");
    List<Relation> relations = new ArrayList<>();
    while (p.nextToken() != JsonToken.END_ARRAY) {
      String schema = null;
      String table = null;
      List<String> columns = List.of();
      List<String> key = List.of();
      startObject(p, "relations");
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        p.nextToken();
        switch (field) {
          case "schema" -> schema = text(p, field);
          case "table" -> table = text(p, field);
          case "columns" -> columns = names(p, field);
          case "key" -> key = names(p, field);
          default -> p.skipChildren();
        }
      }
      if (schema == null) {
        throw missing("schema", "a string");
      }
      if (table == null) {
        throw missing("table", "a string");
      }
      Relation relation = new Relation(TableName.of(schema, table), columns, key);
      if (key.isEmpty() || !columns.containsAll(key)) {
        throw new MalformedMessageException(
            "relation " + relation.table() + " has key " + key
                + " that is empty or not among its columns");
      }
      relations.add(relation);
    }
    return relations;
  }

  /** A transaction as read, its changes naming relations by index until all are known. */
  private record Transaction(
      long position, String xid, int part, boolean last, List<Unresolved> changes) {
    SourceTransaction resolve(List<Relation> relations) throws MalformedMessageException {
      List<Change> out = new ArrayList<>(changes.size());
      for (Unresolved c : changes) {
        out.add(c.resolve(relations));
      }
      return new SourceTransaction(position, xid, part, last, out);
    }
  }

  private record Unresolved(
      Operation op,
      int relation,
      List<String> values,
      List<String> key,
      int column,
      String data,
      List<Integer> chunked) {
    Change resolve(List<Relation> relations) throws MalformedMessageException {
      if (relation < 0 || relation >= relations.size()) {
        throw new MalformedMessageException("change refers to unknown relation " + relation);
      }
      Relation r = relations.get(relation);
      if (op == Operation.VALUE) {
        if (column < 0 || column >= r.columns().size() || data == null) {
          throw new MalformedMessageException(
              "value part on " + r.table() + " has no valid \"column\" and \"data\"");
        }
        return Change.valuePart(r, column, data);
      }
      for (int i = 0; i < chunked.size(); i++) {
        int c = chunked.get(i);
        if (c < 0 || c >= values.size() || values.get(c) != null
            || (i > 0 && c <= chunked.get(i - 1))) {
          throw new MalformedMessageException(
              op.wireName() + " on " + r.table() + " lists chunked column " + c
                  + " that is not an ascending index of a null value");
        }
      }
      boolean needsValues = op == Operation.INSERT || op == Operation.UPDATE;
      boolean needsKey = op == Operation.UPDATE || op == Operation.DELETE;
      if (needsValues && values.size() != r.columns().size()) {
        throw new MalformedMessageException(
            op.wireName() + " on " + r.table() + " has " + values.size() + " values for "
                + r.columns().size() + " columns");
      }
      if (needsKey && key.size() != r.key().size()) {
        throw new MalformedMessageException(
            op.wireName() + " on " + r.table() + " has " + key.size() + " key values for "
                + r.key().size() + " key columns");
      }
      return new Change(op, r, values, key, chunked);
    }
  }

  private static List<Transaction> transactions(JsonParser p)
      throws IOException, MalformedMessageException {
    startArray(p, "transactions");
    List<Transaction> transactions = new ArrayList<>();
    while (p.nextToken() != JsonToken.END_ARRAY) {
      startObject(p, "transactions");
      long position = 0;
      String xid = null;
      int part = 0;
      boolean last = true;
      List<Unresolved> changes = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        switch (field) {
          case "position" -> position =
              value == JsonToken.VALUE_NUMBER_INT
                      && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER
                  ? p.getLongValue()
                  : 0;
          case "xid" -> xid = text(p, field);
          case "part" -> part = p.getValueAsInt(0);
          case "last" -> last = value == JsonToken.VALUE_NULL || p.getValueAsBoolean(true);
          case "changes" -> changes = changes(p);
          default -> p.skipChildren();
        }
      }
      if (position < 1) {
        throw new MalformedMessageException("transaction has no valid \"position\"");
      }
      if (xid == null) {
        throw missing("xid", "a string");
      }
      if (changes == null) {
        throw missing("changes", "an array");
      }
      transactions.add(new Transaction(position, xid, part, last, changes));
    }
    return transactions;
  }

  private static List<Unresolved> changes(JsonParser p)
      throws IOException, MalformedMessageException {
    startArray(p, "changes");
    List<Unresolved> changes = new ArrayList<>();
    while (p.nextToken() != JsonToken.END_ARRAY) {
      startObject(p, "changes");
      Operation op = null;
      int relation = -1;
      List<String> values = List.of();
      List<String> key = List.of();
      int column = -1;
      String data = null;
      List<Integer> chunked = List.of();
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        switch (field) {
          case "column" -> column = value == JsonToken.VALUE_NUMBER_INT ? p.getValueAsInt(-1) : -1;
          case "data" -> data = text(p, field);
          case "chunked" -> chunked = indexes(p, field);
          case "op" -> {
            try {
              op = Operation.fromWireName(text(p, field));
            } catch (IllegalArgumentException e) {
              throw new MalformedMessageException(e.getMessage());
            }
          }
          case "relation" -> {
            if (value != JsonToken.VALUE_NUMBER_INT
                || p.getNumberType() != JsonParser.NumberType.INT) {
              throw new MalformedMessageException(
                  "change refers to unknown relation " + p.getText());
            }
            relation = p.getIntValue();
          }
          case "values" -> values = strings(p, field);
          case "key" -> key = strings(p, field);
          default -> p.skipChildren();
        }
      }
      if (op == null) {
        throw missing("op", "a string");
      }
      changes.add(new Unresolved(op, relation, values, key, column, data, chunked));
    }
    return changes;
  }

  private static void startArray(JsonParser p, String field) throws MalformedMessageException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw missing(field, "an array");
    }
  }

  private static void startObject(JsonParser p, String array) throws MalformedMessageException {
    if (p.currentToken() != JsonToken.START_OBJECT) {
      throw new MalformedMessageException("field \"" + array + "\" holds a non-object");
    }
  }

  private static String text(JsonParser p, String field)
      throws IOException, MalformedMessageException {
    if (p.currentToken() != JsonToken.VALUE_STRING) {
      throw missing(field, "a string");
    }
    return p.getText();
  }

  private static List<String> strings(JsonParser p, String field)
      throws IOException, MalformedMessageException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw new MalformedMessageException("field \"" + field + "\" is not an array");
    }
    List<String> out = new ArrayList<>();
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
      if (t == JsonToken.VALUE_STRING) {
        out.add(p.getText());
      } else if (t == JsonToken.VALUE_NULL) {
        out.add(null);
      } else {
        throw new MalformedMessageException(
            "field \"" + field + "\" holds a non-string value");
      }
    }
    return out;
  }

  private static List<Integer> indexes(JsonParser p, String field)
      throws IOException, MalformedMessageException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw new MalformedMessageException("field \"" + field + "\" is not an array");
    }
    List<Integer> out = new ArrayList<>();
    while (p.nextToken() != JsonToken.END_ARRAY) {
      if (p.currentToken() != JsonToken.VALUE_NUMBER_INT
          || p.getNumberType() != JsonParser.NumberType.INT) {
        throw new MalformedMessageException("field \"" + field + "\" holds a non-integer");
      }
      out.add(p.getIntValue());
    }
    return out;
  }

  private static List<String> names(JsonParser p, String field)
      throws IOException, MalformedMessageException {
    List<String> out = strings(p, field);
    if (out.contains(null)) {
      throw new MalformedMessageException("field \"" + field + "\" holds a null name");
    }
    return out;
  }
}
