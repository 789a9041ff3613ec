package io.replicador.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What the RabbitMQ node listening on a local TCP port has used so far, read from Linux's /proc:
 * CPU seconds of its Erlang VM (utime + stime of {@code beam.smp}), bytes it caused to be written
 * to storage ({@code write_bytes} of /proc/PID/io) and the size of its data directory. Only that
 * node is counted, not other nodes on the machine (tests start their own). A broker inside this JVM
 * (the embedded one) is not found: its work is the JVM's.
 *
 * <p>Reading another user's /proc/PID/io needs root or the same user; without it, or without /proc,
 * {@link #find} returns empty. Not thread-safe; blocks while it walks /proc and the data directory.
 */
final class BrokerMeter {
  private static final double TICKS = 100.0; // USER_HZ on Linux

  private final long pid;
  private final Path dataDir; // null when not found

  private BrokerMeter(long pid, Path dataDir) {
    this.pid = pid;
    this.dataDir = dataDir;
  }

  /** One reading; subtract two with {@link #minus}. */
  record Sample(double cpuSeconds, long writeBytes, long dataDirBytes) {
    Sample minus(Sample before) {
      return new Sample(
          cpuSeconds - before.cpuSeconds,
          writeBytes - before.writeBytes,
          dataDirBytes - before.dataDirBytes);
    }
  }

  /** The node listening on {@code port} on this machine, if /proc shows one we may read. */
  static Optional<BrokerMeter> find(int port) {
    try {
      Optional<Long> inode = listeningInode(port);
      if (inode.isEmpty()) {
        return Optional.empty();
      }
      String socket = "socket:[" + inode.get() + "]";
      try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
        for (Path p : (Iterable<Path>) procs::iterator) {
          if (!p.getFileName().toString().chars().allMatch(Character::isDigit)) {
            continue;
          }
          if (holds(p.resolve("fd"), socket)) {
            long pid = Long.parseLong(p.getFileName().toString());
            if (pid == ProcessHandle.current().pid()) {
              return Optional.empty(); // a broker in this JVM (the embedded one): not apart
            }
            BrokerMeter m = new BrokerMeter(pid, dataDir(p.resolve("fd")));
            m.sample(); // fails here, not mid-run, where /proc/PID/io is not ours to read
            return Optional.of(m);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }

  long pid() {
    return pid;
  }

  /** The node's data directory, or null when no open file showed it. */
  Path dataDir() {
    return dataDir;
  }

  /** CPU seconds the node used so far, user and system. */
  double cpuSeconds() throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS;
  }

  /** CPU, bytes written and the data directory's size (walked: it takes a moment). */
  Sample sample() throws IOException {
    double cpu = cpuSeconds();
    long written = 0;
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "io"))) {
      if (line.startsWith("write_bytes:")) {
        written = Long.parseLong(line.substring("write_bytes:".length()).strip());
      }
    }
    return new Sample(cpu, written, dataDir == null ? 0 : du(dataDir));
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT, "RabbitMQ node pid %d, data %s", pid, dataDir == null ? "unknown" : dataDir);
  }

  // the inode of the socket listening on port, from /proc/net/tcp and tcp6
  private static Optional<Long> listeningInode(int port) throws IOException {
    String hexPort = String.format(Locale.ROOT, ":%04X", port);
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      Path t = Path.of(table);
      if (!Files.exists(t)) {
        continue;
      }
      for (String line : Files.readAllLines(t)) {
        String[] f = line.strip().split("\\s+");
        // local_address is field 1, state field 3 (0A: LISTEN), inode field 9
        if (f.length > 9 && f[1].endsWith(hexPort) && f[3].equals("0A")) {
          return Optional.of(Long.parseLong(f[9]));
        }
      }
    }
    return Optional.empty();
  }

  private static boolean holds(Path fds, String target) {
    try (Stream<Path> list = Files.list(fds)) {
      return list.anyMatch(
          fd -> {
            try {
              return Files.readSymbolicLink(fd).toString().equals(target);
            } catch (IOException gone) {
              return false;
            }
          });
    } catch (IOException notOurs) {
      return false;
    }
  }

  // RabbitMQ keeps its quorum and stream logs open: the directory above "quorum" is the node's
  private static Path dataDir(Path fds) throws IOException {
    try (Stream<Path> list = Files.list(fds)) {
      for (Path fd : (Iterable<Path>) list::iterator) {
        String target;
        try {
          target = Files.readSymbolicLink(fd).toString();
        } catch (IOException gone) {
          continue;
        }
        int at = target.indexOf("/quorum/");
        if (at > 0) {
          return Path.of(target.substring(0, at));
        }
      }
    }
    return null;
  }

  private static long du(Path dir) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        return sizeOf(dir);
      } catch (java.io.UncheckedIOException e) {
        // a directory went away during the walk (a stream's segment, a queue deleted): walk again
        if (attempt == 3) {
          throw e.getCause();
        }
      }
    }
  }

  private static long sizeOf(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      return files
          .filter(Files::isRegularFile)
          .mapToLong(
              f -> {
                try {
                  return Files.size(f);
                } catch (IOException gone) {
                  return 0; // a segment deleted meanwhile
                }
              })
          .sum();
    }
  }
}
