package io.replicador.publish;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.replicador.change.Operation;
import io.replicador.change.TableName;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/**
 * Reads one NOTIFY payload of the origin design, {@code {"table", "operation", "new_record",
 * "old_record"}} as built by {@code json_build_object(..., row_to_json(NEW), row_to_json(OLD))},
 * and checks it against the primary's catalog.
 *
 * <p>It only validates and classifies: the row values stay in the payload text, which the server
 * turns into the table's own row type (see {@link OriginChangeWriter}), so no number or string is
 * ever re-encoded in Java. A payload that cannot be used is rejected with a one-line reason that
 * names no row data. Holds no state of its own: thread-safe when its resolver is.
 */
public final class OriginPayloadTranslator {
  private static final List<String> KEYS =
      List.of("table", "operation", "new_record", "old_record");

  private final ObjectMapper json =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private final TableResolver resolver;

  public OriginPayloadTranslator(TableResolver resolver) {
    this.resolver = resolver;
  }

  /**
   * The change the payload describes.
   *
   * @throws OriginPayloadException when the payload is not in the origin format or names a table
   *     that cannot be replicated; its message is the reason
   * @throws SQLException when the table look-up fails
   */
  public OriginChange translate(String payload) throws OriginPayloadException, SQLException {
    JsonNode root = parse(payload);
    for (String key : KEYS) {
      if (!root.has(key)) {
        throw new OriginPayloadException("payload has no \"" + key + "\" key");
      }
    }
    JsonNode tableNode = root.get("table");
    if (!tableNode.isTextual() || tableNode.asText().isEmpty()) {
      throw new OriginPayloadException("\"table\" is not a non-empty string");
    }
    Operation op = operation(root.get("operation"));
    JsonNode newRecord = root.get("new_record");
    JsonNode oldRecord = root.get("old_record");
    switch (op) {
      case INSERT -> requireObject(newRecord, "new_record", op);
      case UPDATE -> {
        requireObject(newRecord, "new_record", op);
        requireObject(oldRecord, "old_record", op);
      }
      case DELETE -> requireObject(oldRecord, "old_record", op);
      case TRUNCATE -> {
        // a statement-level variant of the trigger: no rows
      }
    }
    String name = tableNode.asText();
    OriginTable table =
        resolver
            .resolve(name)
            .orElseThrow(
                () ->
                    new OriginPayloadException(
                        "table \""
                            + name
                            + "\" does not exist on the primary under the"
                            + " publisher's search_path"));
    if (table.kind() != 'r' && table.kind() != 'p') {
      throw new OriginPayloadException(
          "\""
              + name
              + "\" resolves to "
              + table.name()
              + ", which is not a table (relkind '"
              + table.kind()
              + "')");
    }
    if (!table.hasPrimaryKey()) {
      throw new OriginPayloadException(
          "table " + table.name() + " has no primary key; add one so replicas can find its rows");
    }
    return new OriginChange(table, op, payload);
  }

  private JsonNode parse(String payload) throws OriginPayloadException {
    if (payload == null || payload.isBlank()) {
      throw new OriginPayloadException("payload is empty");
    }
    JsonNode root;
    try {
      root = json.readTree(payload);
    } catch (JsonProcessingException e) {
      String why = e.getOriginalMessage() == null ? "" : e.getOriginalMessage();
      throw new OriginPayloadException(
          "payload is not JSON: " + why.lines().findFirst().orElse("").strip());
    }
    if (root == null || !root.isObject()) {
      throw new OriginPayloadException(
          "payload is not a JSON object (got "
              + (root == null ? "nothing" : root.getNodeType())
              + ")");
    }
    return root;
  }

  private static Operation operation(JsonNode node) throws OriginPayloadException {
    if (node.isTextual()) {
      switch (node.asText()) {
        case "INSERT":
          return Operation.INSERT;
        case "UPDATE":
          return Operation.UPDATE;
        case "DELETE":
          return Operation.DELETE;
        case "TRUNCATE":
          return Operation.TRUNCATE;
        default:
          break;
      }
    }
    String shown = node.isTextual() ? node.asText() : node.getNodeType().toString();
    if (shown.length() > 40) {
      shown = shown.substring(0, 40) + "...";
    }
    throw new OriginPayloadException(
        "unknown operation \"" + shown + "\"; expected INSERT, UPDATE, DELETE or TRUNCATE");
  }

  private static void requireObject(JsonNode node, String key, Operation op)
      throws OriginPayloadException {
    if (!node.isObject()) {
      throw new OriginPayloadException(
          "\"" + key + "\" of " + op + " is " + node.getNodeType() + ", expected a JSON object");
    }
  }

  /** Looks up the table an unqualified origin table name means on the primary. */
  @FunctionalInterface
  public interface TableResolver {
    Optional<OriginTable> resolve(String unqualifiedName) throws SQLException;
  }

  /**
   * A resolved table.
   *
   * @param relid the table the change is reported under (a partition's partitioned table)
   * @param kind pg_class.relkind
   */
  public record OriginTable(long relid, TableName name, char kind, boolean hasPrimaryKey) {}

  /**
   * A valid origin change; {@code payload} is the original text, whose records the server reads.
   */
  public record OriginChange(OriginTable table, Operation op, String payload) {}

  /** A payload that is not usable; the message is the one-line reason. */
  public static final class OriginPayloadException extends Exception {
    private static final long serialVersionUID = 1L;

    public OriginPayloadException(String reason) {
      super(reason);
    }
  }
}
