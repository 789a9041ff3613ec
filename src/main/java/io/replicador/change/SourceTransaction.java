package io.replicador.change;

import java.util.List;

/**
 * One source transaction, or one part of a large one.
 *
 * @param position gap-free sequence number the publisher gave this transaction; a replica that
 *     applied position N has applied everything up to N
 * @param xid the primary's transaction id, for diagnostics
 * @param part 0 for the first (often only) part
 * @param last whether this part ends the transaction
 */
public record SourceTransaction(
    long position, String xid, int part, boolean last, List<Change> changes) {
  public SourceTransaction {
    changes = List.copyOf(changes);
  }

  public boolean whole() {
    return part == 0 && last;
  }
}
