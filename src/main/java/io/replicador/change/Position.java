package io.replicador.change;

import java.util.Objects;

/**
 * Where a source transaction stands in the change stream: the primary's source id and the gap-free
 * position the publisher gave it. Prints as {@code SOURCE:POSITION}, as message ids begin.
 * Immutable.
 */
public record Position(String source, long position) implements Comparable<Position> {
  public Position {
    Objects.requireNonNull(source, "source");
  }

  /** The position of the transaction in a message from {@code source}. */
  public static Position of(String source, SourceTransaction tx) {
    return new Position(source, tx.position());
  }

  /** Whether this comes right after {@code applied} (of the same source). */
  public boolean follows(long applied) {
    return position == applied + 1;
  }

  @Override
  public int compareTo(Position o) {
    int bySource = source.compareTo(o.source);
    return bySource != 0 ? bySource : Long.compare(position, o.position);
  }

  @Override
  public String toString() {
    return source + ":" + position;
  }
}
