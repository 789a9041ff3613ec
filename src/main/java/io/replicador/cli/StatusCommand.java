package io.replicador.cli;

import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.status.Status;
import io.replicador.status.StatusFormatter;
import io.replicador.status.StatusReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "status",
    description = "Show the primary's backlog and publisher, and each replica's queue and lag.")
final class StatusCommand implements Callable<Integer> {
  @Mixin Main.CommonOptions common;

  @Mixin PrimaryOption primary;

  @Mixin AmqpOption amqp;

  @Option(
      names = "--replica",
      paramLabel = "NAME[=URL]",
      description =
          "A replica to show (repeatable): its queue replicador.NAME, and with URL its applied"
              + " position and lag.")
  List<String> replicas = new ArrayList<>();

  @Option(
      names = "--exchange",
      paramLabel = "NAME",
      defaultValue = "replicador",
      description = "The exchange whose replicas to list (default: ${DEFAULT-VALUE}).")
  String exchange;

  @Option(names = "--json", description = "Print one JSON document instead of text.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    Map<String, PostgresAddress> named = new LinkedHashMap<>();
    for (String spec : replicas) {
      int eq = spec.indexOf('=');
      String name = ReplicaNames.checkName("--replica NAME", eq < 0 ? spec : spec.substring(0, eq));
      if (named.containsKey(name)) {
        throw new ConfigException("--replica " + name + " is given twice");
      }
      named.put(name, eq < 0 ? null : PostgresAddress.parse("replica", spec.substring(eq + 1)));
    }
    Status status = new StatusReader(primary.address(), amqp.address(), exchange, named).read();
    System.out.print(json ? StatusFormatter.json(status) + "\n" : StatusFormatter.text(status));
    return 0;
  }
}
