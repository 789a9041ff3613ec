package io.replicador.cli;

import io.replicador.config.ConfigException;
import java.time.Duration;
import picocli.CommandLine.Option;

/** {@code --connect-timeout}, which the long-running commands share. */
final class ConnectTimeoutOption {
  @Option(
      names = "--connect-timeout",
      paramLabel = "SECONDS",
      defaultValue = "0",
      description =
          "At start, give up (exit 2) when the servers are not reachable within this many"
              + " seconds; 0 (the default) waits as long as it takes.")
  long seconds;

  /** The validated timeout; zero for none. */
  Duration timeout() {
    if (seconds < 0) {
      throw new ConfigException("--connect-timeout must be 0 or more seconds, got " + seconds);
    }
    return Duration.ofSeconds(seconds);
  }
}
