package io.replicador.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import io.replicador.config.ConfigException;
import io.replicador.demo.Demo;
import io.replicador.demo.DemoSettings;
import io.replicador.metrics.MetricsAddress;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Run a PostgreSQL primary and two replicas locally, replicate a stream of changes through a"
          + " broker while showing progress, then check that the replicas match.",
      "Needs no settings: the servers are started by this command (an installed PostgreSQL, else"
          + " the one bundled), and the broker is the RabbitMQ on localhost:5672 if one answers,"
          + " else an embedded one. Exit status 0 when the replicas match, 1 when not."
    })
final class DemoCommand implements Callable<Integer> {
  @Mixin Main.CommonOptions common;

  @Option(
      names = "--seconds",
      paramLabel = "N",
      defaultValue = "20",
      description = "How long to write changes (default: ${DEFAULT-VALUE}).")
  int seconds;

  @Option(
      names = "--rate",
      paramLabel = "N",
      defaultValue = "100",
      description = "Transactions per second to write (default: ${DEFAULT-VALUE}).")
  int rate;

  @Option(
      names = "--keep-running",
      description = "Leave everything up after the check and print connection URLs; Ctrl-C stops.")
  boolean keepRunning;

  @Option(
      names = "--capture",
      paramLabel = "SOURCE",
      defaultValue = "trigger",
      description =
          "Capture with 'trigger' (default) or from the WAL with 'wal' (a logical replication"
              + " slot).")
  String capture;

  @Option(
      names = "--amqp",
      paramLabel = "URI",
      description = "Use this broker instead of the local RabbitMQ or the embedded one.")
  String amqp;

  @Option(
      names = "--embedded-broker",
      description = "Use the embedded broker even when a RabbitMQ answers on localhost:5672.")
  boolean embeddedBroker;

  @Option(
      names = "--metrics",
      paramLabel = "HOST:PORT",
      defaultValue = "127.0.0.1:0",
      description =
          "Serve the demo's /metrics and /health/ready here (default: ${DEFAULT-VALUE}, a free"
              + " port; the URL is printed).")
  String metrics;

  @Override
  public Integer call() throws Exception {
    if (seconds < 1 || seconds > 3600) {
      throw new ConfigException("--seconds must be between 1 and 3600, got " + seconds);
    }
    if (rate < 1 || rate > 10_000) {
      throw new ConfigException("--rate must be between 1 and 10000, got " + rate);
    }
    if (!capture.equals("trigger") && !capture.equals("wal")) {
      throw new ConfigException("--capture must be 'trigger' or 'wal', not '" + capture + "'");
    }
    if (embeddedBroker && amqp != null) {
      throw new ConfigException("Give either --amqp or --embedded-broker, not both");
    }
    Logger logger = (Logger) LoggerFactory.getLogger("io.replicador");
    Level level = logger.getLevel();
    if (!common.verbose) {
      // the live view is the demo's output; the services' lifecycle logs would break it up
      logger.setLevel(Level.WARN);
    }
    DemoSettings settings =
        new DemoSettings(
            Duration.ofSeconds(seconds),
            rate,
            keepRunning,
            amqp,
            embeddedBroker,
            System.console() != null,
            capture.equals("wal"),
            MetricsAddress.parse(metrics));
    try {
      return new Demo(settings, System.out).run();
    } finally {
      logger.setLevel(level);
    }
  }
}
