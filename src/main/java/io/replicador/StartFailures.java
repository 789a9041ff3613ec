package io.replicador;

import io.replicador.config.ConfigException;
import java.time.Duration;

/**
 * What a long-running command does with a failure before it has reached its servers once: stop at
 * once on what waiting cannot heal, stop once the connect timeout has passed, else wait. Stateless.
 */
public final class StartFailures {
  private StartFailures() {}

  /**
   * The reason to stop, or null to wait and try again.
   *
   * @param sinceNanos when the command started ({@link System#nanoTime})
   * @param connectTimeout how long to wait for servers that are down; zero for no bound
   */
  public static ConfigException refusal(Throwable e, long sinceNanos, Duration connectTimeout) {
    if (Failures.isConfigurationError(e)) {
      // a wrong password, database or virtual host: say so at once rather than retry
      return new ConfigException(Failures.describe(e), e);
    }
    if (!connectTimeout.isZero() && System.nanoTime() - sinceNanos >= connectTimeout.toNanos()) {
      return new ConfigException(
          "Could not start within --connect-timeout "
              + connectTimeout.toSeconds()
              + " s: "
              + Failures.describe(e)
              + "; check that the server is up and the address is right",
          e);
    }
    return null;
  }
}
