package io.replicador.codec;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.Relation;
import io.replicador.change.SourceTransaction;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON envelope of the change stream (documented in docs/message-format.md): version 1, and
 * version 2 for the messages that carry pieces of large values ({@link Operation#VALUE}), so that a
 * version-1 reader refuses them rather than apply a value it does not know is incomplete, and
 * version 3 for the messages that carry schema changes ({@link Operation#DDL}), so that a reader
 * from before them halts at one rather than skip it or dead-letter it.
 *
 * <p>Relations are listed once per message and changes refer to them by index, so a message of a
 * thousand inserts into one table names its columns once. Thread-safe.
 */
public final class ChangeMessageCodec {
  public static final String FORMAT = "replicador";
  public static final int VERSION = 1;

  /** The version of messages with value pieces. */
  public static final int VERSION_VALUE_PARTS = 2;

  /** The version of messages with schema changes (they may carry value pieces too). */
  public static final int VERSION_DDL = 3;

  public static final String CONTENT_TYPE = "application/vnd.replicador.v1+json";
  public static final String CONTENT_TYPE_VALUE_PARTS = "application/vnd.replicador.v2+json";
  public static final String CONTENT_TYPE_DDL = "application/vnd.replicador.v3+json";

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
    int version = VERSION;
    for (SourceTransaction tx : message.transactions()) {
      for (Change c : tx.changes()) {
        if (c.op() == Operation.DDL) {
          return VERSION_DDL;
        }
        if (c.op() == Operation.VALUE || !c.chunked().isEmpty()) {
          version = VERSION_VALUE_PARTS;
        }
      }
    }
    return version;
  }

  /** The content type of a message, naming its version. */
  public static String contentType(ChangeMessage message) {
    return switch (version(message)) {
      case VERSION -> CONTENT_TYPE;
      case VERSION_VALUE_PARTS -> CONTENT_TYPE_VALUE_PARTS;
      default -> CONTENT_TYPE_DDL;
    };
  }

  public byte[] encode(ChangeMessage message) {
    // grows by segments, copied once at the end: no size estimate, no copying while it grows
    ByteArrayBuilder out = new ByteArrayBuilder();
    try (JsonGenerator g = JSON.createGenerator(out)) {
      Map<Relation, Integer> relationIndex = new IdentityHashMap<>();
      List<Relation> relations = new ArrayList<>();
      for (SourceTransaction tx : message.transactions()) {
        for (Change change : tx.changes()) {
          if (change.op() == Operation.DDL) {
            continue; // names its table itself: it has no columns to list
          }
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
          if (c.op() == Operation.DDL) {
            g.writeStringField("schema", c.table().schema());
            g.writeStringField("table", c.table().name());
            g.writeStringField("statement", c.statement());
            g.writeStringField("search_path", c.searchPath());
            g.writeEndObject();
            continue;
          }
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
      return ChangeMessageDecoder.message(p, ours);
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
}
