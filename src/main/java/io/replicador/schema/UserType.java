package io.replicador.schema;

import io.replicador.change.TableName;
import java.util.List;

/**
 * A type a replicated column needs that is not built in: an enum, a domain or a composite type.
 *
 * @param name schema and type name
 * @param labels enum labels in sort order (enums)
 * @param baseType the base type, qualified (domains)
 * @param notNull whether the domain is NOT NULL
 * @param defaultExpression the domain's default, or null
 * @param checks the domain's constraints as {@code pg_get_constraintdef} prints them
 * @param attributes "quoted-name type" pairs of a composite type, already spelled as SQL
 */
public record UserType(
    Kind kind,
    TableName name,
    List<String> labels,
    String baseType,
    boolean notNull,
    String defaultExpression,
    List<String> checks,
    List<String> attributes) {

  /** The kinds of type snapshot knows how to create. */
  public enum Kind {
    ENUM,
    DOMAIN,
    COMPOSITE
  }

  public UserType {
    labels = List.copyOf(labels);
    checks = List.copyOf(checks);
    attributes = List.copyOf(attributes);
  }
}
