package io.replicador.cli;

import io.replicador.RetryingService;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lines a platform team looks for around a command: one at start with the version and the
 * settings (addresses print without passwords), and one when a stop signal (SIGTERM, Ctrl-C)
 * arrives; the service itself then logs what it finished.
 */
final class ProcessLog {
  private static final Logger log = LoggerFactory.getLogger(ProcessLog.class);

  private ProcessLog() {}

  static void starting(String command, String settings) {
    log.info("{} {} starting with {}", version(), command, settings);
  }

  /**
   * Logs the start line of a long-running service once its first session has reached its servers,
   * then tells {@code next}: a start refused for what waiting cannot heal stays the one line that
   * says why, while a service that waits for its servers says so in lines of its own.
   */
  static RetryingService.SessionObserver startLine(
      String command, String settings, RetryingService.SessionObserver next) {
    AtomicBoolean logged = new AtomicBoolean();
    return new RetryingService.SessionObserver() {
      @Override
      public void connected() {
        if (logged.compareAndSet(false, true)) {
          starting(command, settings);
        }
        next.connected();
      }

      @Override
      public void failed(String reason) {
        next.failed(reason);
      }
    };
  }

  /**
   * Stops {@code service} on SIGTERM or Ctrl-C (a JVM shutdown), saying so first. The returned flag
   * is set by the caller once the service returned by itself, so that an exit after, say, a refused
   * setting is not reported as a signal.
   */
  static AtomicBoolean stopOnSignal(String command, RetryingService service) {
    AtomicBoolean returned = new AtomicBoolean();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  if (!returned.get()) {
                    log.info(
                        "{} received a stop signal (SIGTERM or Ctrl-C); finishing the work in"
                            + " flight",
                        command);
                  }
                  service.close();
                },
                "replicador-shutdown"));
    return returned;
  }

  static String version() {
    try {
      return new Main.Version().getVersion()[0];
    } catch (IOException e) {
      return "replicador (version unknown)";
    }
  }
}
