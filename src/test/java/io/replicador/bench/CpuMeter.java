package io.replicador.bench;

import io.replicador.testing.PgCluster;
import io.replicador.testing.TestEnvironment;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * CPU seconds used so far by the parts of a benchmark run on this Linux machine: this JVM
 * (publisher and listeners), each PostgreSQL cluster (postmaster, its live processes, and those
 * that exited), and a local RabbitMQ: the node the benchmark uses where /proc shows which one it is
 * ({@link BrokerMeter}), else every Erlang VM on the machine. Where /proc is not there, reports
 * nothing.
 */
final class CpuMeter {
  private static final double TICKS = 100.0; // USER_HZ on Linux

  private final Map<String, PgCluster> clusters;
  private final Optional<BrokerMeter> broker;

  /** Counts the clusters, this JVM and the tests' broker ({@link TestEnvironment#amqpUri}). */
  CpuMeter(Map<String, PgCluster> clusters) {
    this(clusters, TestEnvironment.amqpUri());
  }

  CpuMeter(Map<String, PgCluster> clusters, String amqpUri) {
    this.clusters = clusters;
    this.broker = BrokerMeter.find(port(amqpUri));
  }

  /** The port of an AMQP URI (5672 when it names none). */
  static int port(String amqpUri) {
    int port = URI.create(amqpUri).getPort();
    return port < 0 ? 5672 : port;
  }

  Map<String, Double> sample() {
    Map<String, Double> out = new LinkedHashMap<>();
    if (!Files.isDirectory(Path.of("/proc/self"))) {
      return out;
    }
    out.put(
        "Java",
        ProcessHandle.current().info().totalCpuDuration().map(d -> d.toNanos() / 1e9).orElse(0.0));
    Map<Long, String> postmasters = new LinkedHashMap<>();
    clusters.forEach(
        (name, c) -> {
          postmasters.put(c.postmasterPid(), name);
          out.put(name, 0.0);
        });
    out.put("RabbitMQ", 0.0);
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      procs
          .filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
          .forEach(
              p -> {
                try {
                  String stat = Files.readString(p.resolve("stat"));
                  String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                  long pid = Long.parseLong(p.getFileName().toString());
                  long ppid = Long.parseLong(f[1]);
                  double cpu =
                      (Long.parseLong(f[11])
                              + Long.parseLong(f[12])
                              + Long.parseLong(f[13])
                              + Long.parseLong(f[14]))
                          / TICKS;
                  String owner = postmasters.getOrDefault(pid, postmasters.get(ppid));
                  if (owner == null
                      && broker.isEmpty()
                      && Files.readString(p.resolve("cmdline")).contains("beam")) {
                    owner = "RabbitMQ";
                  }
                  if (owner != null) {
                    out.merge(owner, cpu, Double::sum);
                  }
                } catch (IOException | RuntimeException gone) {
                  // the process ended meanwhile
                }
              });
      if (broker.isPresent()) {
        out.put("RabbitMQ", broker.get().cpuSeconds());
      }
    } catch (IOException e) {
      return Map.of();
    }
    return out;
  }

  /** What each part used between two samples, e.g. "Java 1.2 s, primary 3.4 s, ...". */
  static String difference(Map<String, Double> before, Map<String, Double> after) {
    StringBuilder sb = new StringBuilder();
    after.forEach(
        (k, v) -> {
          if (sb.length() > 0) {
            sb.append(", ");
          }
          sb.append(
              String.format(
                  java.util.Locale.ROOT, "%s %.1f s", k, v - before.getOrDefault(k, 0.0)));
        });
    return sb.toString();
  }
}
