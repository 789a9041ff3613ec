package io.replicador.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import io.replicador.Failures;
import io.replicador.capture.CaptureException;
import io.replicador.config.ConfigException;
import io.replicador.config.SettingsDefaults;
import io.replicador.metrics.LogFormat;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/** The {@code replicador} program: parses, then runs one subcommand. */
@Command(
    name = "replicador",
    mixinStandardHelpOptions = true,
    scope = CommandLine.ScopeType.INHERIT,
    versionProvider = Main.Version.class,
    description = "Replicates PostgreSQL tables to other PostgreSQL databases through RabbitMQ.",
    subcommands = {
      InstallCommand.class,
      UninstallCommand.class,
      PublishCommand.class,
      ListenCommand.class,
      SnapshotCommand.class,
      VerifyCommand.class,
      StatusCommand.class,
      RemoveReplicaCommand.class,
      DdlCommand.class,
      DemoCommand.class
    })
public final class Main implements Runnable {
  /** Exit status for errors (bad input, unreachable servers); verify uses 1 for differences. */
  public static final int EXIT_ERROR = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Name a subcommand");
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the program and returns its exit status (used by tests to run it in-process). */
  public static int run(String... args) {
    boolean verbose = Arrays.asList(args).contains("--verbose");
    if (verbose) {
      ((Logger) LoggerFactory.getLogger("io.replicador")).setLevel(Level.DEBUG);
    }
    CommandLine cli = new CommandLine(new Main());
    try {
      SettingsDefaults defaults = SettingsDefaults.fromArgs(args, System.getenv());
      defaults.checkKeys(settingNames(cli));
      cli.setDefaultValueProvider(defaults);
    } catch (ConfigException e) {
      System.err.println("replicador: " + e.getMessage());
      return EXIT_ERROR;
    }
    cli.setParameterExceptionHandler(new ParseErrors());
    AtomicReference<LogFormat> format = new AtomicReference<>(LogFormat.TEXT);
    cli.setExecutionStrategy(
        parsed -> {
          // before the command logs anything; the value may come from the environment or file
          CommandLine.ParseResult command = parsed;
          while (command.subcommand() != null) {
            command = command.subcommand();
          }
          OptionSpec option = command.commandSpec().findOption("--log-format");
          if (option != null) {
            try {
              format.set(LogFormat.parse(option.getValue()));
            } catch (ConfigException e) {
              System.err.println("replicador: " + e.getMessage());
              return EXIT_ERROR;
            }
            format.get().apply();
          }
          return new CommandLine.RunLast().execute(parsed);
        });
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          if (format.get() == LogFormat.JSON) {
            // one JSON object per line to the end, for whatever collects the lines; the stack
            // trace, with --verbose, in its error field
            LoggerFactory.getLogger(Main.class)
                .error("replicador: {}", Failures.describe(e), verbose ? e : null);
            return EXIT_ERROR;
          }
          if (e instanceof CaptureException) {
            // one line per problem, each with its fix
            e.getMessage().lines().forEach(line -> System.err.println("replicador: " + line));
          } else {
            System.err.println("replicador: " + Failures.describe(e));
          }
          if (verbose) {
            e.printStackTrace();
          } else if (!(e instanceof ConfigException || e instanceof CaptureException)) {
            System.err.println("(run with --verbose for details)");
          }
          return EXIT_ERROR;
        });
    return cli.execute(args);
  }

  /**
   * The long option names of every subcommand, without dashes: the keys a config file may have. Any
   * subcommand's, not only the one being run, so that one file can serve install, publish and
   * listen alike.
   */
  static Set<String> settingNames(CommandLine cli) {
    Set<String> names = new TreeSet<>();
    for (CommandLine sub : cli.getSubcommands().values()) {
      for (OptionSpec option : sub.getCommandSpec().options()) {
        for (String name : option.names()) {
          if (name.startsWith("--")) {
            names.add(name.substring(2));
          }
        }
      }
    }
    return names;
  }

  /** Options every subcommand has. */
  public static final class CommonOptions {
    @Option(
        names = "--config",
        paramLabel = "FILE",
        description = "YAML file of settings (keys are option names without dashes).")
    String config;

    @Option(names = "--verbose", description = "Debug logging and stack traces on errors.")
    boolean verbose;

    @Option(
        names = "--log-format",
        paramLabel = "FORMAT",
        defaultValue = "text",
        description =
            "text (the default) or json: one JSON object per line, with replica, position and"
                + " table fields where they apply.")
    String logFormat;
  }

  /**
   * The Maven project version, from a resource the build writes, so it is the same when run from
   * the jar and from {@code target/classes} (the jar's manifest has no version).
   */
  public static final class Version implements CommandLine.IVersionProvider {
    static final String RESOURCE = "/io/replicador/version.properties";

    @Override
    public String[] getVersion() throws IOException {
      Properties p = new Properties();
      try (InputStream in = Main.class.getResourceAsStream(RESOURCE)) {
        if (in == null) {
          throw new IOException(
              RESOURCE + " is missing from the classpath; build with 'mvn package'");
        }
        p.load(in);
      }
      return new String[] {"replicador " + p.getProperty("version")};
    }
  }
}
