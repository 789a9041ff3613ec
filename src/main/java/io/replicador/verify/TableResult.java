package io.replicador.verify;

import io.replicador.change.TableName;
import java.util.List;

/**
 * What verify found for one table.
 *
 * @param primaryRows rows on the primary
 * @param replicaRows rows on the replica (-1 when the table is missing there)
 * @param differences differing rows, at most the requested number
 * @param more whether there are differences beyond those listed
 */
public record TableResult(
    TableName table,
    long primaryRows,
    long replicaRows,
    List<Difference> differences,
    boolean more) {

  public TableResult {
    differences = List.copyOf(differences);
  }

  public boolean missingOnReplica() {
    return replicaRows < 0;
  }

  public boolean equal() {
    return !missingOnReplica() && differences.isEmpty() && !more;
  }
}
