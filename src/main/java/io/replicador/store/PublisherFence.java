package io.replicador.store;

import io.replicador.config.ConfigException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Waits until the active publisher has written every origin notification queued so far into the
 * changelog. Used when {@code install --replace-trigger} switches a table from the origin NOTIFY
 * trigger to capture triggers: with the table locked against writes, every notification of the old
 * trigger is already in PostgreSQL's notification queue, and the queue delivers in commit order. So
 * once the publisher answers a request sent now (on the doorbell channel it always listens on), it
 * has written all of them, and changes captured after the switch get later changelog ids: nothing
 * is overtaken, lost or captured twice.
 *
 * <p>Uses its own connection in autocommit mode (the installer's transaction holds the lock), which
 * it does not close. Blocks up to the timeout. Not thread-safe.
 */
public final class PublisherFence {
  private static final Logger log = LoggerFactory.getLogger(PublisherFence.class);

  /** Payload prefix of a request on the doorbell channel; the rest is the token to echo. */
  public static final String REQUEST_PREFIX = "fence:";

  /** Channel the publisher answers on, with the token as payload. */
  public static final String ANSWER_CHANNEL = "replicador_fence";

  private final Connection connection;
  private final Duration timeout;

  public PublisherFence(Connection connection, Duration timeout) {
    this.connection = connection;
    this.timeout = timeout;
  }

  /**
   * Returns once the active publisher answered; returns at once when no publisher is active (nobody
   * hears notifications then, so there is nothing to wait for).
   *
   * @throws CaptureException when an active publisher does not answer within the timeout
   */
  public void await() throws SQLException {
    connection.setAutoCommit(true);
    if (!publisherActive()) {
      log.info("No publisher is active: no origin notification is waiting to be written");
      return;
    }
    String token = UUID.randomUUID().toString();
    try (Statement st = connection.createStatement()) {
      st.execute("LISTEN " + ANSWER_CHANNEL);
    }
    try {
      try (PreparedStatement ps = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
        ps.setString(1, PrimaryStore.DOORBELL_CHANNEL);
        ps.setString(2, REQUEST_PREFIX + token);
        ps.execute();
      }
      PGConnection pg = connection.unwrap(PGConnection.class);
      long start = System.nanoTime();
      long deadline = start + timeout.toNanos();
      while (true) {
        long left = Duration.ofNanos(deadline - System.nanoTime()).toMillis();
        if (left <= 0) {
          throw new ConfigException(
              "The active publisher did not confirm within "
                  + timeout.toSeconds()
                  + " s that it"
                  + " has written the origin notifications sent before the switch; nothing was"
                  + " changed. Check the publisher's log (is it stuck or starting?) and run again");
        }
        PGNotification[] received = pg.getNotifications((int) Math.max(1, left));
        if (received != null) {
          for (PGNotification n : received) {
            if (n.getName().equals(ANSWER_CHANNEL) && token.equals(n.getParameter())) {
              log.info(
                  "The active publisher has written every origin notification sent before the"
                      + " switch (answered in {} ms)",
                  Duration.ofNanos(System.nanoTime() - start).toMillis());
              return;
            }
          }
        }
      }
    } finally {
      try (Statement st = connection.createStatement()) {
        st.execute("UNLISTEN " + ANSWER_CHANNEL);
      }
    }
  }

  /** Answers fence requests: the caller has written every origin notification received so far. */
  public static void answer(Connection connection, List<String> tokens) throws SQLException {
    if (tokens.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
      for (String token : tokens) {
        ps.setString(1, ANSWER_CHANNEL);
        ps.setString(2, token);
        ps.execute();
      }
    }
    if (!connection.getAutoCommit()) {
      connection.commit(); // notifications are sent at commit
    }
  }

  private boolean publisherActive() throws SQLException {
    return new PrimaryStore(connection, "the primary").publisherSession().isPresent();
  }
}
