package io.replicador.cli;

import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueType;
import io.replicador.broker.StreamRetention;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The broker and replica-queue options that {@code listen} and {@code snapshot} share: they must
 * name the same queue the same way, so they are declared once.
 */
final class ReplicaQueueOptions {
  @Mixin AmqpOption amqp;

  @Option(
      names = "--exchange",
      paramLabel = "NAME",
      defaultValue = "replicador",
      description = "Exchange the publisher uses (default: ${DEFAULT-VALUE}).")
  String exchange;

  @Option(
      names = "--name",
      paramLabel = "NAME",
      description =
          "The replica's name; its queue is replicador.NAME (snapshot and listen use the"
              + " same name).")
  String name;

  @Option(
      names = "--queue-type",
      paramLabel = "TYPE",
      defaultValue = "quorum",
      description =
          "quorum or classic (a queue per replica), or stream (one stream for all replicas, each"
              + " reading from its own position); the same for publish, snapshot and listen"
              + " (default: ${DEFAULT-VALUE}).")
  String queueType;

  @Mixin StreamOptions stream;

  BrokerAddress broker() {
    return amqp.address();
  }

  /** The validated replica name. */
  String name() {
    return ReplicaNames.checkName("--name", name);
  }

  QueueType queueType() {
    return ReplicaNames.queueType(queueType);
  }

  /** The stream's retention, for a stream this command may have to make. */
  StreamRetention retention() {
    return stream.retention(queueType());
  }
}
