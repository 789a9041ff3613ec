package io.replicador.codec;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.Relation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON envelope of the change stream, version 1 (documented in docs/message-format.md).
 *
 * <p>Relations are listed once per message and changes refer to them by index, so a message of a
 * thousand inserts into one table names its columns once. Thread-safe.
 */
public final class ChangeMessageCodec {
  public static final String FORMAT = "replicador";
  public static final int VERSION = 1;
  public static final String CONTENT_TYPE = "application/vnd.replicador.v1+json";

  private static final JsonFactory JSON = new JsonFactory();
  private static final ObjectMapper MAPPER = new ObjectMapper(JSON);

  public byte[] encode(ChangeMessage message) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(sizeEstimate(message));
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
      g.writeNumberField("version", VERSION);
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
          if (!c.key().isEmpty()) {
            writeStrings(g, "key", c.key());
          }
          if (!c.values().isEmpty()) {
            writeStrings(g, "values", c.values());
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

  /** Roughly the encoded size, so the buffer is allocated once rather than grown many times. */
  private static int sizeEstimate(ChangeMessage message) {
    long size = 1024;
    for (SourceTransaction tx : message.transactions()) {
      for (Change c : tx.changes()) {
        size += 48;
        for (String v : c.values()) {
          size += v == null ? 5 : v.length() + 4;
        }
        for (String v : c.key()) {
          size += v == null ? 5 : v.length() + 4;
        }
      }
    }
    return (int) Math.min(size + size / 8, Integer.MAX_VALUE - 16);
  }

  private static void writeStrings(JsonGenerator g, String field, List<String> values)
      throws IOException {
    g.writeArrayFieldStart(field);
    for (String v : values) {
      if (v == null) {
        g.writeNull();
      } else {
        g.writeString(v);
      }
    }
    g.writeEndArray();
  }

  /**
   * Decodes a message body.
   *
   * @throws MalformedMessageException naming what is wrong, when the body is not a version-1
   *     change message
   */
  public ChangeMessage decode(byte[] body) throws MalformedMessageException {
    JsonNode root;
    try {
      root = MAPPER.readTree(body);
    } catch (JsonProcessingException e) {
      throw new MalformedMessageException("body is not JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new MalformedMessageException("body cannot be read: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new MalformedMessageException("body is not a JSON object");
    }
    if (!FORMAT.equals(root.path("format").asText(null))) {
      throw new MalformedMessageException("field \"format\" is not \"" + FORMAT + "\"");
    }
    JsonNode version = root.path("version");
    if (!version.isInt() || version.intValue() != VERSION) {
      throw new MalformedMessageException(
          "unsupported version " + version + "; this listener reads version " + VERSION);
    }
    String source = text(root, "source");
    List<Relation> relations = new ArrayList<>();
    for (JsonNode r : array(root, "relations")) {
      Relation relation =
          new Relation(
              TableName.of(text(r, "schema"), text(r, "table")),
              nonNullStrings(r, "columns"),
              nonNullStrings(r, "key"));
      if (relation.key().isEmpty() || !relation.columns().containsAll(relation.key())) {
        throw new MalformedMessageException(
            "relation " + relation.table() + " has key " + relation.key()
                + " that is empty or not among its columns");
      }
      relations.add(relation);
    }
    List<SourceTransaction> transactions = new ArrayList<>();
    for (JsonNode t : array(root, "transactions")) {
      List<Change> changes = new ArrayList<>();
      for (JsonNode c : array(t, "changes")) {
        changes.add(change(c, relations));
      }
      JsonNode position = t.path("position");
      if (!position.canConvertToLong() || position.longValue() < 1) {
        throw new MalformedMessageException("transaction has no valid \"position\"");
      }
      transactions.add(
          new SourceTransaction(
              position.longValue(),
              text(t, "xid"),
              t.path("part").asInt(0),
              t.path("last").asBoolean(true),
              changes));
    }
    return new ChangeMessage(source, transactions);
  }

  private static Change change(JsonNode c, List<Relation> relations)
      throws MalformedMessageException {
    Operation op;
    try {
      op = Operation.fromWireName(text(c, "op"));
    } catch (IllegalArgumentException e) {
      throw new MalformedMessageException(e.getMessage());
    }
    JsonNode index = c.path("relation");
    if (!index.isInt() || index.intValue() < 0 || index.intValue() >= relations.size()) {
      throw new MalformedMessageException("change refers to unknown relation " + index);
    }
    Relation relation = relations.get(index.intValue());
    List<String> values = strings(c, "values");
    List<String> key = strings(c, "key");
    boolean needsValues = op == Operation.INSERT || op == Operation.UPDATE;
    boolean needsKey = op == Operation.UPDATE || op == Operation.DELETE;
    if (needsValues && values.size() != relation.columns().size()) {
      throw new MalformedMessageException(
          op.wireName() + " on " + relation.table() + " has " + values.size()
              + " values for " + relation.columns().size() + " columns");
    }
    if (needsKey && key.size() != relation.key().size()) {
      throw new MalformedMessageException(
          op.wireName() + " on " + relation.table() + " has " + key.size()
              + " key values for " + relation.key().size() + " key columns");
    }
    return new Change(op, relation, values, key);
  }

  private static String text(JsonNode node, String field) throws MalformedMessageException {
    JsonNode v = node.get(field);
    if (v == null || !v.isTextual()) {
      throw new MalformedMessageException("field \"" + field + "\" is missing or not a string");
    }
    return v.textValue();
  }

  private static JsonNode array(JsonNode node, String field) throws MalformedMessageException {
    JsonNode v = node.get(field);
    if (v == null || !v.isArray()) {
      throw new MalformedMessageException("field \"" + field + "\" is missing or not an array");
    }
    return v;
  }

  private static List<String> strings(JsonNode node, String field)
      throws MalformedMessageException {
    JsonNode v = node.get(field);
    if (v == null) {
      return List.of();
    }
    if (!v.isArray()) {
      throw new MalformedMessageException("field \"" + field + "\" is not an array");
    }
    List<String> out = new ArrayList<>(v.size());
    for (JsonNode e : v) {
      if (e.isNull()) {
        out.add(null);
      } else if (e.isTextual()) {
        out.add(e.textValue());
      } else {
        throw new MalformedMessageException("field \"" + field + "\" holds a non-string value");
      }
    }
    return out;
  }

  private static List<String> nonNullStrings(JsonNode node, String field)
      throws MalformedMessageException {
    List<String> out = strings(node, field);
    if (out.contains(null)) {
      throw new MalformedMessageException("field \"" + field + "\" holds a null name");
    }
    return out;
  }
}
