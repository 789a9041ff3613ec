package io.replicador.cli;

import io.replicador.RetryingService;
import io.replicador.broker.QueueType;
import io.replicador.broker.StreamRetention;
import io.replicador.config.ConfigException;
import io.replicador.metrics.MetricsServer;
import io.replicador.metrics.PublisherMetrics;
import io.replicador.metrics.Readiness;
import io.replicador.publish.BacklogProbe;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "publish",
    description = "Ship captured changes from the primary to RabbitMQ (runs until stopped).")
final class PublishCommand implements Callable<Integer> {
  @Mixin Main.CommonOptions common;

  @Mixin PrimaryOption primary;

  @Mixin AmqpOption amqp;

  @Option(
      names = "--exchange",
      paramLabel = "NAME",
      defaultValue = "replicador",
      description = "Durable topic exchange for the changes (default: ${DEFAULT-VALUE}).")
  String exchange;

  @Option(
      names = "--batch-rows",
      paramLabel = "N",
      defaultValue = "20000",
      description = "Changes claimed per batch (default: ${DEFAULT-VALUE}).")
  int batchRows;

  @Option(
      names = "--notify-channel",
      paramLabel = "CHANNEL",
      split = ",",
      description =
          "Also LISTEN on this channel for the origin design's row payloads and ship them"
              + " (repeatable); see docs/origin-notify-mode.md.")
  List<String> notifyChannels = new ArrayList<>();

  @Option(
      names = "--signing-key-file",
      paramLabel = "FILE",
      description =
          "Sign every message with the secret in FILE (at least 32 bytes, e.g. made with 'head -c"
              + " 32 /dev/urandom | base64'); listeners given the same file apply only signed"
              + " messages. See docs/security.md.")
  String signingKeyFile;

  @Option(
      names = "--queue-type",
      paramLabel = "TYPE",
      defaultValue = "quorum",
      description =
          "stream: also keep every change in the exchange's one stream, which stream replicas"
              + " read (give listen and snapshot the same); quorum or classic: only the replicas'"
              + " own queues, which their listeners declare (default: ${DEFAULT-VALUE}).")
  String queueType;

  @Mixin StreamOptions stream;

  @Mixin ConnectTimeoutOption connect;

  @Mixin MetricsOption metrics;

  @Override
  public Integer call() throws Exception {
    Duration connectTimeout = connect.timeout();
    if (batchRows < 1) {
      throw new ConfigException("--batch-rows must be at least 1, got " + batchRows);
    }
    for (String channel : notifyChannels) {
      if (channel.isEmpty() || channel.equals("replicador")) {
        throw new ConfigException(
            "--notify-channel '"
                + channel
                + "' cannot be used: name the channel the origin"
                + " trigger notifies (e.g. users_changed); 'replicador' is the doorbell's own");
      }
    }
    PublisherSettings defaults =
        PublisherSettings.defaults(primary.address(), amqp.address(), exchange);
    PublisherSettings settings =
        new PublisherSettings(
            defaults.primary(),
            defaults.broker(),
            defaults.exchange(),
            batchRows,
            defaults.messageChanges(),
            defaults.messageBytes(),
            defaults.idlePoll(),
            List.copyOf(new LinkedHashSet<>(notifyChannels)),
            signingKeyFile == null ? null : SigningKeyFiles.load(List.of(signingKeyFile)));
    QueueType type = ReplicaNames.queueType(queueType);
    StreamRetention retention = stream.retention(type);
    if (type.isStream()) {
      settings = settings.withStream(retention);
    }
    metrics.address(); // a wrong --metrics is refused before anything starts
    String startSettings =
        "primary "
            + settings.primary()
            + ", broker "
            + settings.broker()
            + ", exchange '"
            + settings.exchange()
            + "'"
            + (settings.stream() == null ? "" : ", queue-type stream (" + settings.stream() + ")")
            + ", batch-rows "
            + settings.batchRows()
            + (settings.notifyChannels().isEmpty()
                ? ""
                : ", notify-channel " + settings.notifyChannels())
            + ", connect-timeout "
            + connectTimeout.toSeconds()
            + " s, metrics "
            + (metrics.address() == null ? "off" : metrics.address());
    ChangePublisher publisher = new ChangePublisher(settings, connectTimeout);
    Readiness readiness = new Readiness();
    try (MetricsServer server = metrics.start("publish", List.of(), readiness);
        BacklogProbe backlog = new BacklogProbe(settings.primary())) {
      RetryingService.SessionObserver health = RetryingService.SessionObserver.NONE;
      if (server != null) {
        PublisherMetrics meters = new PublisherMetrics(server.registry());
        meters.backlog(backlog);
        publisher.measuredBy(meters);
        health = new SessionHealth(readiness, "the primary and the broker", meters::reconnected);
      }
      publisher.observe(ProcessLog.startLine("publish", startSettings, health));
      AtomicBoolean returned = ProcessLog.stopOnSignal("publish", publisher);
      publisher.run();
      returned.set(true);
    }
    if (publisher.refused() != null) {
      throw publisher.refused();
    }
    return 0;
  }
}
