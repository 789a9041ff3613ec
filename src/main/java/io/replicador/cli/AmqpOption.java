package io.replicador.cli;

import io.replicador.broker.BrokerAddress;
import picocli.CommandLine.Option;

/** {@code --amqp}, which every command that talks to the broker has. */
final class AmqpOption {
  @Option(
      names = "--amqp",
      paramLabel = "URI",
      description = "RabbitMQ, e.g. amqp://guest@localhost:5672/.")
  String uri;

  /** The parsed address; names the option when it is missing or malformed. */
  BrokerAddress address() {
    return BrokerAddress.parse(uri);
  }
}
