package io.replicador.bench;

import io.replicador.testing.PgCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the cluster's own pgbench with a custom script, 4 clients on 2 threads, durable commits as
 * the cluster has them. Blocks until pgbench exits.
 */
final class Pgbench {
  /** One row a transaction, keyed by the database's sequence {@code ids}. */
  static final String INSERT = "INSERT INTO items (id, payload) VALUES (nextval('ids'), 'x');\n";

  private Pgbench() {}

  /**
   * The transactions per second pgbench reports.
   *
   * @param rate transactions per second to aim at, or 0 for as many as the clients manage
   */
  static double tps(PgCluster cluster, String database, String script, Duration duration, int rate)
      throws IOException, InterruptedException {
    Path file = Files.createTempFile("bench-", ".sql");
    try {
      Files.writeString(file, script);
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  cluster.bin().resolve("pgbench").toString(),
                  "-n",
                  "-h",
                  "127.0.0.1",
                  "-p",
                  String.valueOf(cluster.port()),
                  "-U",
                  "postgres",
                  "-c",
                  "4",
                  "-j",
                  "2",
                  "-T",
                  String.valueOf(duration.toSeconds()),
                  "-f",
                  file.toString()));
      if (rate > 0) {
        cmd.addAll(List.of("-R", String.valueOf(rate)));
      }
      cmd.add(database);
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      p.waitFor();
      Matcher m = Pattern.compile("tps = ([0-9.]+)").matcher(out);
      if (!m.find()) {
        throw new IllegalStateException("pgbench failed:\n" + out);
      }
      return Double.parseDouble(m.group(1));
    } finally {
      Files.deleteIfExists(file);
    }
  }
}
