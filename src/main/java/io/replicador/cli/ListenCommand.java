package io.replicador.cli;

import io.micrometer.core.instrument.Tag;
import io.replicador.Failures;
import io.replicador.RetryingService;
import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.QueueType;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.metrics.ListenerMetrics;
import io.replicador.metrics.MetricsServer;
import io.replicador.metrics.Readiness;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.MDC;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "listen",
    description = "Apply changes from RabbitMQ to one replica (runs until stopped).")
final class ListenCommand implements Callable<Integer> {
  /** Null when the database accepts a connection, else why not. */
  static String reachable(PostgresAddress address) {
    try (Connection c = address.connect("replicador-health")) {
      return null;
    } catch (SQLException | RuntimeException e) {
      return "cannot connect to " + address + ": " + Failures.describe(e);
    }
  }

  @Mixin Main.CommonOptions common;

  @Mixin ReplicaQueueOptions queue;

  @Option(names = "--replica", paramLabel = "URL", description = "The replica database.")
  String replica;

  @Option(
      names = "--tables",
      paramLabel = "S.T[,S.T...]",
      description = "Apply only these tables (default: all).")
  String tables;

  @Option(
      names = "--prefetch",
      paramLabel = "N",
      defaultValue = "" + ListenerSettings.DEFAULT_PREFETCH,
      description =
          "Messages the broker sends ahead of acknowledgement; also the most one replica"
              + " transaction applies (default: ${DEFAULT-VALUE}).")
  int prefetch;

  @Option(
      names = "--allow-replica-triggers",
      description =
          "Apply even where the listener cannot set session_replication_role and replacing a row"
              + " would fire the replica's ON DELETE actions or DELETE triggers.")
  boolean allowReplicaTriggers;

  @Option(
      names = "--signing-key-file",
      paramLabel = "FILE",
      split = ",",
      description =
          "Apply only messages signed with the key in FILE (repeatable: during a key rotation,"
              + " the old and the new key); others are dead-lettered. See docs/security.md.")
  List<String> signingKeyFiles = new ArrayList<>();

  @Mixin ConnectTimeoutOption connect;

  @Mixin MetricsOption metrics;

  @Override
  public Integer call() throws Exception {
    Duration connectTimeout = connect.timeout();
    String name = queue.name();
    QueueType type = queue.queueType();
    if (prefetch < 1) {
      throw new ConfigException("--prefetch must be at least 1, got " + prefetch);
    }
    TableSelection selection = new TableSelection();
    selection.tables = tables;
    ListenerSettings settings =
        new ListenerSettings(
            PostgresAddress.parse("replica", replica),
            queue.broker(),
            queue.exchange,
            name,
            type,
            new LinkedHashSet<>(selection.named()),
            prefetch,
            allowReplicaTriggers,
            SigningKeyFiles.load(signingKeyFiles),
            queue.retention());
    metrics.address(); // a wrong --metrics is refused before anything starts
    MDC.put("replica", name);
    String startSettings =
        "replica "
            + name
            + " on "
            + settings.replica()
            + ", broker "
            + settings.broker()
            + ", exchange '"
            + settings.exchange()
            + "', queue-type "
            + type
            + (type.isStream() ? " (" + settings.streamRetention() + ")" : "")
            + ", tables "
            + (settings.tables().isEmpty() ? "all" : settings.tables())
            + ", prefetch "
            + prefetch
            + (allowReplicaTriggers ? ", allow-replica-triggers" : "")
            + ", connect-timeout "
            + connectTimeout.toSeconds()
            + " s, metrics "
            + (metrics.address() == null ? "off" : metrics.address());
    ReplicaListener listener = new ReplicaListener(settings, connectTimeout);
    Readiness readiness = new Readiness();
    try (MetricsServer server =
        metrics.start("listen", List.of(Tag.of("replica", name)), readiness)) {
      RetryingService.SessionObserver health = RetryingService.SessionObserver.NONE;
      if (server != null) {
        ListenerMetrics meters = new ListenerMetrics(server.registry(), name, readiness);
        listener.measuredBy(meters);
        health = new SessionHealth(readiness, "the replica and the broker", meters::reconnected);
        PostgresAddress replicaAddress = settings.replica();
        // The listener notices a replica that went away only when it next writes to it: an idle
        // one would stay ready. The probe asks the database itself.
        readiness.probe("replica database", Duration.ofSeconds(1), () -> reachable(replicaAddress));
      }
      listener.observe(ProcessLog.startLine("listen", startSettings, health));
      AtomicBoolean returned = ProcessLog.stopOnSignal("listen", listener);
      listener.run();
      returned.set(true);
    }
    if (listener.refused() != null) {
      throw listener.refused();
    }
    return 0;
  }
}
