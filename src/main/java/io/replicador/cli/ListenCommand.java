package io.replicador.cli;

import io.replicador.apply.ListenerSettings;
import io.replicador.apply.ReplicaListener;
import io.replicador.broker.QueueType;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "listen",
    description = "Apply changes from RabbitMQ to one replica (runs until stopped).")
final class ListenCommand implements Callable<Integer> {
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
            SigningKeyFiles.load(signingKeyFiles));
    ReplicaListener listener = new ReplicaListener(settings, connectTimeout);
    Runtime.getRuntime().addShutdownHook(new Thread(listener::close, "replicador-shutdown"));
    listener.run();
    if (listener.refused() != null) {
      throw listener.refused();
    }
    return 0;
  }
}
