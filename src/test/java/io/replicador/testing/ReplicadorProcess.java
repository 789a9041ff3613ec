package io.replicador.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code replicador} in a separate JVM from the test classpath, so a test can kill it with
 * SIGKILL as a crash would. Output goes to a log file that failures can show.
 */
public final class ReplicadorProcess implements AutoCloseable {
  private final Process process;
  private final Path log;

  private ReplicadorProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  public static ReplicadorProcess start(String... args) {
    return start(Map.of(), args);
  }

  /** Starts it with these variables added to this JVM's environment. */
  public static ReplicadorProcess start(Map<String, String> environment, String... args) {
    try {
      Path log = Files.createTempFile("replicador-" + args[0] + "-", ".log");
      log.toFile().deleteOnExit(); // kept while the tests run, for output() in failures
      List<String> command = new ArrayList<>();
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.add("-Xmx256m");
      command.add("-cp");
      command.add(System.getProperty("java.class.path"));
      command.add("io.replicador.cli.Main");
      command.addAll(List.of(args));
      ProcessBuilder builder =
          new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
      builder.environment().putAll(environment);
      Process p = builder.start();
      return new ReplicadorProcess(p, log);
    } catch (IOException e) {
      throw new IllegalStateException("Cannot start replicador " + args[0], e);
    }
  }

  /** SIGKILL: no shutdown hook runs. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  public String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no output: " + e.getMessage() + ")";
    }
  }

  /** SIGTERM and wait, as a service manager would stop it. */
  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
  }
}
