package io.replicador.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Subcommands of the design that this build does not have yet. */
abstract class NotYetCommand implements Callable<Integer> {
  @CommandLine.Unmatched List<String> ignored;

  @Override
  public Integer call() {
    Command c = getClass().getAnnotation(Command.class);
    System.err.println("replicador: '" + c.name() + "' is not yet available in this version");
    return Main.EXIT_ERROR;
  }

  @Command(name = "snapshot", description = "Copy the primary's tables to a new replica.")
  static final class Snapshot extends NotYetCommand {}

  @Command(name = "verify", description = "Compare primary and replica, naming differing rows.")
  static final class Verify extends NotYetCommand {}

  @Command(name = "status", description = "Show backlog, publishers, queues and replica lag.")
  static final class Status extends NotYetCommand {}
}
