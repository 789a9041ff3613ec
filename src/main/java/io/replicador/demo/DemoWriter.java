package io.replicador.demo;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes a paced stream of transactions to the demo's {@code users} table: inserts, updates (some
 * of several rows in one transaction) and deletes, each row stamped with {@code clock_timestamp()}
 * so the live view can tell how far behind a replica is. Runs on its own thread; {@link #close}
 * stops it. Owns its connection.
 */
final class DemoWriter implements Runnable, AutoCloseable {
  static final String DDL =
      "CREATE TABLE public.users ("
          + " id integer PRIMARY KEY,"
          + " name text NOT NULL,"
          + " email text,"
          + " score integer NOT NULL DEFAULT 0,"
          + " updated_at timestamptz NOT NULL DEFAULT clock_timestamp())";

  private static final String[] NAMES = {
    "Ana", "Bruno", "Carla", "Diego", "Eva", "Fábio", "Gabi", "Hugo", "Inês", "João", "Kátia",
    "Léo", "Marta", "Nuno", "Olga", "Paulo", "Rita", "Sérgio", "Tânia", "Vítor"
  };

  private final Connection connection;
  private final Duration duration;
  private final int perSecond;
  private final SplittableRandom random = new SplittableRandom(42);
  private final AtomicLong committed = new AtomicLong();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch finished = new CountDownLatch(1);
  private volatile SQLException failure;
  private int nextId = 1;

  DemoWriter(Connection connection, Duration duration, int perSecond) {
    this.connection = connection;
    this.duration = duration;
    this.perSecond = perSecond;
  }

  @Override
  public void run() {
    long start = System.nanoTime();
    long interval = TimeUnit.SECONDS.toNanos(1) / perSecond;
    try (connection;
        PreparedStatement insert =
            connection.prepareStatement(
                "INSERT INTO public.users (id, name, email, score, updated_at)"
                    + " VALUES (?, ?, ?, ?, clock_timestamp())");
        PreparedStatement update =
            connection.prepareStatement(
                "UPDATE public.users SET score = score + ?, updated_at = clock_timestamp()"
                    + " WHERE id = (SELECT id FROM public.users WHERE id >= ? ORDER BY id LIMIT 1)");
        PreparedStatement delete =
            connection.prepareStatement(
                "DELETE FROM public.users"
                    + " WHERE id = (SELECT id FROM public.users WHERE id >= ? ORDER BY id LIMIT 1)")) {
      connection.setAutoCommit(false);
      for (long i = 0; running.get(); i++) {
        long due = start + i * interval;
        if (due - start > duration.toNanos()) {
          break;
        }
        long wait = due - System.nanoTime();
        if (wait > 0 && stopRequested.await(wait, TimeUnit.NANOSECONDS)) {
          break;
        }
        writeOne(insert, update, delete);
        connection.commit();
        committed.incrementAndGet();
      }
    } catch (SQLException e) {
      failure = e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      finished.countDown();
    }
  }

  private void writeOne(
      PreparedStatement insert, PreparedStatement update, PreparedStatement delete)
      throws SQLException {
    int dice = random.nextInt(100);
    int changed = 0;
    if (nextId > 50 && dice >= 50 && dice < 90) {
      // a third of the updates change several rows in one transaction
      int rows = dice < 63 ? 1 + random.nextInt(5) : 1;
      for (int r = 0; r < rows; r++) {
        update.setInt(1, 1 + random.nextInt(10));
        update.setInt(2, 1 + random.nextInt(nextId));
        changed += update.executeUpdate();
      }
    } else if (nextId > 50 && dice >= 90) {
      delete.setInt(1, 1 + random.nextInt(nextId));
      changed += delete.executeUpdate();
    }
    if (changed == 0) {
      // an insert, or an update or delete that found no row: every transaction changes something
      int id = nextId++;
      String name = NAMES[random.nextInt(NAMES.length)];
      insert.setInt(1, id);
      insert.setString(2, name + " " + id);
      insert.setString(
          3, random.nextInt(5) == 0 ? null : name.toLowerCase(Locale.ROOT) + id + "@example.org");
      insert.setInt(4, random.nextInt(1000));
      insert.executeUpdate();
    }
  }

  /** Creates the demo table on a database. */
  static void createTable(Connection c) throws SQLException {
    try (Statement st = c.createStatement()) {
      st.execute(DDL);
    }
  }

  /** The newest {@code updated_at} of a database's users, as epoch micros (0 when empty). */
  static long newestStamp(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT coalesce((extract(epoch FROM max(updated_at)) * 1000000)::bigint, 0)"
                    + " FROM public.users")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  long committed() {
    return committed.get();
  }

  boolean isDone() {
    return finished.getCount() == 0;
  }

  /** Waits up to {@code d} for the writer to finish its stream. */
  void awaitFinished(Duration d) throws InterruptedException {
    finished.await(d.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** Throws what stopped the writer early, if anything did. */
  void rethrow() throws SQLException {
    if (failure != null) {
      throw failure;
    }
  }

  @Override
  public void close() throws InterruptedException {
    running.set(false);
    stopRequested.countDown();
    finished.await(30, TimeUnit.SECONDS);
  }
}
