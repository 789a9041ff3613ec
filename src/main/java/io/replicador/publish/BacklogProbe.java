package io.replicador.publish;

import io.replicador.config.PostgresAddress;
import io.replicador.metrics.PublisherMetrics;
import io.replicador.store.PrimaryStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the primary's backlog for the publisher's gauges, on a connection of its own (the
 * publisher's connection belongs to the publisher's thread), at most once per second however often
 * it is scraped. Called on the metrics server's threads; thread-safe. Returns null while the
 * primary cannot be read. {@link #close} closes its connection.
 */
public final class BacklogProbe implements Supplier<PublisherMetrics.Backlog>, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BacklogProbe.class);
  private static final Duration FRESH = Duration.ofSeconds(1);

  private final PostgresAddress primary;
  private Connection connection;
  private PublisherMetrics.Backlog last;
  private long readAt;

  public BacklogProbe(PostgresAddress primary) {
    this.primary = primary;
  }

  @Override
  public synchronized PublisherMetrics.Backlog get() {
    long now = System.nanoTime();
    if (readAt != 0 && now - readAt < FRESH.toNanos()) {
      return last;
    }
    readAt = now;
    try {
      if (connection == null || connection.isClosed()) {
        connection = primary.connect("replicador-publish-metrics");
        try (Statement st = connection.createStatement()) {
          // a scrape must not wait long on a primary that is busy or locked
          st.execute("SET statement_timeout = '5s'");
        }
      }
      PrimaryStore.Backlog b = new PrimaryStore(connection, primary.toString()).backlog();
      last = new PublisherMetrics.Backlog(b.changes(), b.transactions(), b.ageSeconds());
    } catch (SQLException | RuntimeException e) {
      log.debug("Cannot read the backlog on {}", primary, e);
      closeQuietly();
      last = null;
    }
    return last;
  }

  private void closeQuietly() {
    if (connection != null) {
      try {
        connection.close();
      } catch (SQLException e) {
        log.debug("Closing the backlog connection failed", e);
      }
      connection = null;
    }
  }

  @Override
  public synchronized void close() {
    closeQuietly();
  }
}
