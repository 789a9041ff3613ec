package io.replicador.cli;

import io.replicador.broker.QueueInspector;
import io.replicador.broker.Topology;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.store.ReplicaStore;
import java.sql.Connection;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "remove-replica",
    description =
        "Remove a replica: its queues (changes waiting in them are dropped) and, with --replica,"
            + " its positions in that database. Its listener must be stopped (for a replica that"
            + " reads the stream, give --replica so that a running listener is found).")
final class RemoveReplicaCommand implements Callable<Integer> {
  @Mixin Main.CommonOptions common;

  @Mixin AmqpOption amqp;

  @Option(
      names = "--exchange",
      paramLabel = "NAME",
      defaultValue = "replicador",
      description = "The exchange that feeds it (default: ${DEFAULT-VALUE}).")
  String exchange;

  @Option(names = "--name", paramLabel = "NAME", description = "The replica's name.")
  String name;

  @Option(
      names = "--replica",
      paramLabel = "URL",
      description = "The replica database, to forget its positions there too (optional).")
  String replica;

  @Override
  public Integer call() throws Exception {
    String checked = ReplicaNames.checkName("--name", name);
    String queue = Topology.queueName(checked);
    if (replica != null) {
      // a listener reading the stream holds a lock on its replica (the broker cannot tell)
      try (Connection c = PostgresAddress.parse("replica", replica).connect("replicador-remove")) {
        c.setAutoCommit(false);
        boolean running = new ReplicaStore(c, checked).listenerRunning();
        c.commit();
        if (running) {
          throw new ConfigException(
              "Replica "
                  + checked
                  + ": a listener is reading the stream into "
                  + replica
                  + "; stop it first");
        }
      }
    }
    try (QueueInspector broker =
        new QueueInspector(amqp.address(), "replicador-remove-" + checked)) {
      QueueInspector.QueueCounts counts =
          broker.inspect(queue).orElse(new QueueInspector.QueueCounts(0, 0));
      if (counts.consumers() > 0) {
        throw new ConfigException(
            "Replica " + checked + ": a listener is consuming queue " + queue + "; stop it first");
      }
      broker.removeReplica(exchange, checked);
      System.out.println(
          "Removed queues of replica "
              + checked
              + " ("
              + counts.messages()
              + " message(s) were waiting)");
    }
    if (replica != null) {
      try (Connection c = PostgresAddress.parse("replica", replica).connect("replicador-remove")) {
        c.setAutoCommit(false);
        ReplicaStore store = new ReplicaStore(c, checked);
        if (store.bookkept()) {
          store.forget();
        }
        c.commit();
        System.out.println("Forgot the positions of replica " + checked + " in " + replica);
      }
    }
    return 0;
  }
}
