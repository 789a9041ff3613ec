package io.replicador.bench;

import io.replicador.testing.PgCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Polls a database until a query says true, or gives up at a deadline. Blocks the caller. */
final class Await {
  private Await() {}

  /** Polls {@code sql} (one boolean) every few milliseconds until it is true. */
  static void isTrue(PgCluster cluster, String db, String sql, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (Connection c = cluster.connect(db);
        Statement st = c.createStatement()) {
      while (true) {
        try (ResultSet rs = st.executeQuery(sql)) {
          if (rs.next() && rs.getBoolean(1)) {
            return;
          }
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("timed out waiting for: " + sql + " on " + db);
        }
        TimeUnit.MILLISECONDS.sleep(5);
      }
    }
  }
}
