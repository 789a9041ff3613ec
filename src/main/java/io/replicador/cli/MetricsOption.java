package io.replicador.cli;

import io.micrometer.core.instrument.Tag;
import io.replicador.metrics.MetricsAddress;
import io.replicador.metrics.MetricsServer;
import io.replicador.metrics.Readiness;
import java.util.List;
import picocli.CommandLine.Option;

/** {@code --metrics}, which the long-running commands share. */
final class MetricsOption {
  @Option(
      names = "--metrics",
      paramLabel = "HOST:PORT",
      description =
          "Serve /metrics (Prometheus), /health/live and /health/ready on this address, e.g."
              + " 0.0.0.0:9187 (port 0: any free port, logged); see docs/monitoring.md.")
  String address;

  /** The validated address, or null when not set. */
  MetricsAddress address() {
    return address == null || address.isBlank() ? null : MetricsAddress.parse(address.strip());
  }

  /** Starts the server, or returns null when {@code --metrics} is not set. */
  MetricsServer start(String command, List<Tag> tags, Readiness readiness) {
    MetricsAddress a = address();
    return a == null ? null : MetricsServer.start(a, command, tags, readiness);
  }
}
