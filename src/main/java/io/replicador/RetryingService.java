package io.replicador;

import io.replicador.config.ConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A long-running command's life, shared by the publisher and the listener: {@link #run} runs
 * sessions until {@link #close}. Before a session first reached its servers, what waiting cannot
 * heal stops it ({@link #refused}) and servers that are down are waited for, up to the connect
 * timeout; afterwards every failure is retried with a backoff that doubles up to 30 s and starts
 * over once a session made progress. Thread-safe for {@link #close} from another thread.
 */
public abstract class RetryingService implements Runnable, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RetryingService.class);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

  private final AtomicBoolean running = new AtomicBoolean(true);
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final Duration connectTimeout;
  private volatile ConfigException refused;
  private volatile boolean started;
  private volatile Thread runner;
  private volatile SessionObserver observer = SessionObserver.NONE;

  /**
   * Told when a session has reached its servers and when one failed, for health checks and meters.
   * Called on the service's thread; must not block.
   */
  public interface SessionObserver {
    SessionObserver NONE =
        new SessionObserver() {
          @Override
          public void connected() {}

          @Override
          public void failed(String reason) {}
        };

    void connected();

    /** A session failed (it is retried, or the service stops); {@code reason} is one line. */
    void failed(String reason);
  }

  /**
   * @param connectTimeout how long to wait at start for servers that are not up yet before giving
   *     up; zero to wait as long as it takes
   */
  protected RetryingService(Duration connectTimeout) {
    this.connectTimeout = connectTimeout;
  }

  /** One session: connects, works until stopped or failed. */
  protected abstract void session() throws Exception;

  /** How log lines name this service, e.g. "Listener replica1". */
  protected abstract String name();

  /** A number that grows with the work done, so that a failure after progress resets backoff. */
  protected abstract long progress();

  /** The line logged once the service stopped after it had started. */
  protected abstract String stoppedLine();

  @Override
  public final void run() {
    runner = Thread.currentThread();
    Duration backoff = Duration.ofSeconds(1);
    long since = System.nanoTime();
    try {
      while (running.get()) {
        long before = progress();
        try {
          session();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        } catch (ConfigException e) {
          refused = e; // waiting does not fix a setting: stop and let the caller say why
          break;
        } catch (Exception e) {
          if (!running.get()) {
            break;
          }
          observer.failed(Failures.describe(e));
          if (!started) {
            refused = StartFailures.refusal(e, since, connectTimeout);
            if (refused != null) {
              break;
            }
            log.warn(
                "{} cannot start yet ({}); waiting for the servers, retrying in {} s",
                name(),
                Failures.describe(e),
                backoff.toSeconds());
          } else {
            if (progress() > before) {
              backoff = Duration.ofSeconds(1); // it worked for a while: start the backoff over
            }
            if (e instanceof SQLException
                || e instanceof IOException
                || e instanceof TimeoutException
                || e instanceof UncheckedIOException) {
              log.warn(
                  "{} lost a connection ({}); reconnecting in {} s",
                  name(),
                  Failures.describe(e),
                  backoff.toSeconds());
              log.debug("{} failure", name(), e);
            } else {
              // a bug rather than a lost connection: start over (what was not settled comes
              // again) rather than stop and fall behind
              log.error(
                  "{} failed ({}); starting over in {} s",
                  name(),
                  Failures.describe(e),
                  backoff.toSeconds(),
                  e);
            }
          }
          if (!pause(backoff)) {
            break;
          }
          backoff = doubled(backoff);
        }
      }
    } finally {
      if (started) {
        log.info(stoppedLine());
      }
      stopped.countDown();
    }
  }

  /** The next backoff: twice this one, at most 30 s. */
  protected static Duration doubled(Duration backoff) {
    Duration twice = backoff.multipliedBy(2);
    return twice.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : twice;
  }

  /** Marks the session as having reached its servers: from now on every failure is retried. */
  protected final void started() {
    started = true;
    observer.connected();
  }

  /** Sets who is told of sessions connecting and failing; call before {@link #run}. */
  public final void observe(SessionObserver observer) {
    this.observer = observer;
  }

  protected final boolean running() {
    return running.get();
  }

  /** Waits unless stopping; false when stopping or interrupted (the flag is restored). */
  protected final boolean pause(Duration d) {
    try {
      return running.get()
          && !stopRequested.await(d.toMillis(), TimeUnit.MILLISECONDS)
          && running.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Why {@link #run} returned by itself: something waiting cannot heal (a setting, a replica that
   * must change first). Null when it was stopped.
   */
  public final ConfigException refused() {
    return refused;
  }

  /** Stops after the work in flight; waits up to 30 s (not when called from the service). */
  @Override
  public void close() {
    if (running.get() && started) {
      log.info("{} stopping on request, after the batch in flight", name());
    }
    running.set(false);
    stopRequested.countDown();
    if (runner == Thread.currentThread()) {
      return;
    }
    try {
      stopped.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
