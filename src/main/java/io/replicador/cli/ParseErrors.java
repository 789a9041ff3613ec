package io.replicador.cli;

import io.replicador.config.ConfigException;
import io.replicador.config.NearestName;
import io.replicador.config.Secrets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Reports a command line that does not parse in two lines: the error, then where help is. It never
 * shows a value that may hold a password: picocli's own message lists every unmatched argument, so
 * {@code --primry postgresql://u:secret@h/db} printed the password. An unknown option is named
 * (without an {@code =value}), the values around it are not, and any argument that holds a password
 * is hidden wherever it appears.
 */
final class ParseErrors implements CommandLine.IParameterExceptionHandler {
  @Override
  public int handleParseException(ParameterException e, String[] args) {
    System.err.println("replicador: " + message(e, List.of(args)));
    System.err.println("see '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help'");
    return Main.EXIT_ERROR;
  }

  /** The one-line reason, safe to print. */
  static String message(ParameterException e, List<String> args) {
    if (e instanceof UnmatchedArgumentException u) {
      return unmatched(u.getCommandLine(), u.getUnmatched());
    }
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (t instanceof ConfigException c) {
        // a setting from the config file or the environment; picocli's wrapper lists the args
        return Secrets.redact(c.getMessage());
      }
    }
    String m = e.getMessage() == null ? "" : e.getMessage().lines().findFirst().orElse("");
    for (String arg : args) {
      if (Secrets.holdsPassword(arg)) {
        m = m.replace(arg, Secrets.redact(arg));
      }
    }
    return Secrets.redact(m);
  }

  private static String unmatched(CommandLine cli, List<String> unmatched) {
    CommandSpec spec = cli.getCommandSpec();
    if (!cli.getSubcommands().isEmpty() && !unmatched.get(0).startsWith("-")) {
      // what follows a command name that is not one belongs to that command: not looked at
      String command = unmatched.get(0);
      return "Unknown command "
          + quoted(command)
          + NearestName.among(command, cli.getSubcommands().keySet())
              .map(c -> "; did you mean '" + c + "'?")
              .orElse("");
    }
    Set<String> unknownOptions = new LinkedHashSet<>();
    List<String> others = new ArrayList<>();
    for (String arg : unmatched) {
      if (arg.startsWith("-") && arg.length() > 1) {
        int eq = arg.indexOf('=');
        unknownOptions.add(eq < 0 ? arg : arg.substring(0, eq));
      } else {
        others.add(arg);
      }
    }
    if (!unknownOptions.isEmpty()) {
      // the other unmatched arguments are most likely the values of these options: not shown
      String first = unknownOptions.iterator().next();
      return (unknownOptions.size() == 1 ? "Unknown option " : "Unknown options ")
          + unknownOptions.stream().map(o -> "'" + o + "'").collect(Collectors.joining(", "))
          + NearestName.among(first.replaceFirst("^-+", ""), longOptionNames(spec))
              .map(o -> "; did you mean '--" + o + "'?")
              .orElse("");
    }
    String shown = others.stream().map(ParseErrors::quoted).collect(Collectors.joining(", "));
    return (others.size() == 1 ? "Unexpected argument " : "Unexpected arguments ")
        + shown
        + "; '"
        + spec.qualifiedName()
        + "' takes options only";
  }

  private static String quoted(String arg) {
    return Secrets.holdsPassword(arg) ? "(a value holding a password, not shown)" : "'" + arg + "'";
  }

  /** Long option names without their dashes: a typo is compared with those only. */
  private static List<String> longOptionNames(CommandSpec spec) {
    List<String> names = new ArrayList<>();
    for (OptionSpec o : spec.options()) {
      for (String name : o.names()) {
        if (!o.hidden() && name.startsWith("--")) {
          names.add(name.substring(2));
        }
      }
    }
    return names;
  }
}
