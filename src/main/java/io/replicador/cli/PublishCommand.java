package io.replicador.cli;

import io.replicador.config.ConfigException;
import io.replicador.publish.ChangePublisher;
import io.replicador.publish.PublisherSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
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

  @Mixin ConnectTimeoutOption connect;

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
    ChangePublisher publisher = new ChangePublisher(settings, connectTimeout);
    Runtime.getRuntime().addShutdownHook(new Thread(publisher::close, "replicador-shutdown"));
    publisher.run();
    if (publisher.refused() != null) {
      throw publisher.refused();
    }
    return 0;
  }
}
