package io.replicador.codec;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.Relation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a change message with a streaming parser, field by field in any order, skipping fields it
 * does not know, and checks what it reads (see {@link ChangeMessageCodec#decode}). Stateless.
 */
final class ChangeMessageDecoder {
  private ChangeMessageDecoder() {}

  static ChangeMessage message(JsonParser p, boolean[] ours)
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
          if (value != JsonToken.VALUE_STRING || !ChangeMessageCodec.FORMAT.equals(p.getText())) {
            throw new MalformedMessageException(
                "field \"format\" is not \"" + ChangeMessageCodec.FORMAT + "\"");
          }
          format = true;
          ours[0] = true;
        }
        case "version" -> {
          if (value != JsonToken.VALUE_NUMBER_INT
              || p.getNumberType() != JsonParser.NumberType.INT
              || (p.getIntValue() != ChangeMessageCodec.VERSION
                  && p.getIntValue() != ChangeMessageCodec.VERSION_VALUE_PARTS
                  && p.getIntValue() != ChangeMessageCodec.VERSION_DDL)) {
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
      throw new MalformedMessageException(
          "field \"format\" is not \"" + ChangeMessageCodec.FORMAT + "\"");
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
        "unsupported version "
            + version
            + "; this listener reads versions "
            + ChangeMessageCodec.VERSION
            + " to "
            + ChangeMessageCodec.VERSION_DDL
            + ": upgrade it");
  }

  private static MalformedMessageException missing(String field, String what) {
    return new MalformedMessageException("field \"" + field + "\" is missing or not " + what);
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
            "relation "
                + relation.table()
                + " has key "
                + key
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
      List<Integer> chunked,
      Ddl ddl) {
    Change resolve(List<Relation> relations) throws MalformedMessageException {
      if (op == Operation.DDL) {
        if (ddl.schema == null || ddl.table == null || ddl.statement == null) {
          throw new MalformedMessageException(
              "ddl change lacks \"schema\", \"table\" or \"statement\"");
        }
        return Change.ddl(
            TableName.of(ddl.schema, ddl.table),
            ddl.statement,
            ddl.searchPath == null ? "" : ddl.searchPath);
      }
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
        if (c < 0
            || c >= values.size()
            || values.get(c) != null
            || (i > 0 && c <= chunked.get(i - 1))) {
          throw new MalformedMessageException(
              op.wireName()
                  + " on "
                  + r.table()
                  + " lists chunked column "
                  + c
                  + " that is not an ascending index of a null value");
        }
      }
      boolean needsValues = op == Operation.INSERT || op == Operation.UPDATE;
      boolean needsKey = op == Operation.UPDATE || op == Operation.DELETE;
      if (needsValues && values.size() != r.columns().size()) {
        throw new MalformedMessageException(
            op.wireName()
                + " on "
                + r.table()
                + " has "
                + values.size()
                + " values for "
                + r.columns().size()
                + " columns");
      }
      if (needsKey && key.size() != r.key().size()) {
        throw new MalformedMessageException(
            op.wireName()
                + " on "
                + r.table()
                + " has "
                + key.size()
                + " key values for "
                + r.key().size()
                + " key columns");
      }
      return new Change(op, r, values, key, chunked);
    }
  }

  /** The fields of a ddl change, as read. */
  private static final class Ddl {
    String schema;
    String table;
    String statement;
    String searchPath;
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
          case "position" ->
              position =
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
      Ddl ddl = new Ddl();
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
          case "schema" -> ddl.schema = text(p, field);
          case "table" -> ddl.table = text(p, field);
          case "statement" -> ddl.statement = text(p, field);
          case "search_path" -> ddl.searchPath = text(p, field);
          default -> p.skipChildren();
        }
      }
      if (op == null) {
        throw missing("op", "a string");
      }
      changes.add(new Unresolved(op, relation, values, key, column, data, chunked, ddl));
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
        throw new MalformedMessageException("field \"" + field + "\" holds a non-string value");
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
