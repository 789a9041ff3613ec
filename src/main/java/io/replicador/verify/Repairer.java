package io.replicador.verify;

import io.replicador.config.PostgresAddress;
import io.replicador.schema.SessionSettings;
import io.replicador.store.PrimaryStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Repairs the rows verify found different ({@code verify --repair}) through the change stream, not
 * by writing the replica: for each, the primary re-emits its current version of the row, in order
 * with every other change (see {@link PrimaryStore#refreshRow}); the replica upserts it, or deletes
 * the key when the primary has no such row. Each table's rows are refreshed in one primary
 * transaction that first locks the table against writers (reads go on), so no change of those rows
 * commits between what is read and what is shipped, and any later change of a row reaches the
 * replica after its refresh: a repair never undoes a newer change. Works with either capture
 * source, and changes no user row. Opens and closes its own connection; blocks.
 */
public final class Repairer {
  private static final Logger log = LoggerFactory.getLogger(Repairer.class);

  private final PostgresAddress primary;

  public Repairer(PostgresAddress primary) {
    this.primary = primary;
  }

  /**
   * A row refreshed.
   *
   * @param upserted true when the primary has the row (the replica upserts it), false when not (the
   *     replica deletes it)
   */
  public record Repaired(TableResult table, Difference row, boolean upserted) {}

  /** Refreshes every listed difference of the results; tables missing on the replica are left. */
  public List<Repaired> repair(List<TableResult> results) throws SQLException {
    List<Repaired> repaired = new ArrayList<>();
    try (Connection c = primary.connect("replicador-repair")) {
      // the key values verify printed are read back under the same settings
      SessionSettings.apply(c);
      PrimaryStore store = new PrimaryStore(c, primary.toString());
      store.requireCurrent();
      c.setAutoCommit(false);
      for (TableResult r : results) {
        if (r.missingOnReplica() || r.differences().isEmpty()) {
          continue;
        }
        try (Statement st = c.createStatement()) {
          // SHARE: writers wait for this short transaction, readers do not
          st.execute("LOCK TABLE " + r.table().quoted() + " IN SHARE MODE");
        }
        List<Repaired> table = new ArrayList<>();
        for (Difference d : r.differences()) {
          table.add(new Repaired(r, d, store.refreshRow(r.table(), d.keyColumns(), d.key())));
        }
        c.commit();
        log.info("Re-emitted {} row(s) of {} for the replica to refresh", table.size(), r.table());
        repaired.addAll(table);
      }
    }
    return repaired;
  }
}
