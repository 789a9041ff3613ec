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

  @Command(name = "demo", description = "Run a primary and two replicas locally and watch.")
  static final class Demo extends NotYetCommand {}
}
