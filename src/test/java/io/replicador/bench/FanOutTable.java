package io.replicador.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The figures of a fan-out run, one {@link Rounds} per transport, replica count and figure, and the
 * tables {@link FanOutBench} prints of them (Markdown, for docs/performance.md). Not thread-safe.
 */
final class FanOutTable {
  // figure keys and column titles of the main table, in order
  private static final String[][] COLUMNS = {
    {"tps", "primary TPS"},
    {"small-cpu", "broker CPU µs/txn"},
    {"small-write", "broker bytes written/txn"},
    {"small-data", "broker data dir growth/txn"},
    {"catch-up", "catch-up after pgbench (s)"},
    {"bulk-cpu", "bulk: broker CPU µs/row"},
    {"bulk-write", "bulk: broker bytes written/row"},
    {"bulk-data", "bulk: data dir growth/row"},
    {"bulk-write-time", "bulk: written on the primary (s)"},
    {"bulk-catch-up", "bulk: catch-up after the write (s)"},
  };
  private static final List<String> PARTS = List.of("Java", "replicas", "primary", "batching");

  private final Map<String, Rounds> figures = new LinkedHashMap<>();

  /** One round's value of {@code figure} for {@code transport} with {@code replicas}. */
  void add(String transport, int replicas, String figure, double value) {
    figures.computeIfAbsent(key(transport, replicas, figure), k -> new Rounds()).add(value);
  }

  /**
   * Prints the broker's table, the CPU of the other parts, and the stream's figures over the
   * queues' round by round.
   *
   * @param skippedStream why the stream was not measured, or null when it was
   */
  void print(List<String> transports, int[] replicaCounts, String skippedStream) {
    StringBuilder head = new StringBuilder("| transport | replicas |");
    StringBuilder rule = new StringBuilder("|---|---:|");
    for (String[] c : COLUMNS) {
      head.append(' ').append(c[1]).append(" |");
      rule.append("---:|");
    }
    System.out.println(head);
    System.out.println(rule);
    for (int n : replicaCounts) {
      for (String t : transports) {
        StringBuilder row = new StringBuilder("| " + t + " | " + n + " |");
        for (String[] c : COLUMNS) {
          row.append(' ').append(summary(t, n, c[0])).append(" |");
        }
        System.out.println(row);
      }
      if (skippedStream != null) {
        System.out.println("| stream | " + n + " | skipped: " + skippedStream + " |");
      }
    }

    System.out.println();
    System.out.println(
        "CPU per change elsewhere (µs): this JVM (publisher and all listeners), the replicas'"
            + " PostgreSQL (all replica databases), the primary's PostgreSQL (pgbench's backends"
            + " included); and the source transactions each replica transaction applied");
    System.out.println(
        "| transport | replicas | JVM/txn | replicas/txn | primary/txn | source txns/replica txn"
            + " | bulk: JVM/row | bulk: replicas/row | bulk: primary/row | bulk: source"
            + " txns/replica txn |");
    System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (int n : replicaCounts) {
      for (String t : transports) {
        StringBuilder row = new StringBuilder("| " + t + " | " + n + " |");
        for (String phase : List.of("small", "bulk")) {
          for (String part : PARTS) {
            row.append(' ').append(summary(t, n, phase + "-" + part)).append(" |");
          }
        }
        System.out.println(row);
      }
    }

    if (skippedStream == null) {
      System.out.println();
      System.out.println("Stream over queues, round by round:");
      for (int n : replicaCounts) {
        StringBuilder row = new StringBuilder("  " + n + " replica(s):");
        for (String f : List.of("tps", "small-cpu", "small-write", "bulk-cpu", "bulk-write")) {
          Rounds q = figures.get(key("queues", n, f));
          Rounds s = figures.get(key("stream", n, f));
          if (q != null && s != null) {
            row.append(' ').append(f).append(' ').append(s.over(q).summaryAsRatio()).append(';');
          }
        }
        System.out.println(row);
      }
    }
  }

  private String summary(String transport, int replicas, String figure) {
    Rounds r = figures.get(key(transport, replicas, figure));
    return r == null ? "-" : r.summary();
  }

  private static String key(String transport, int replicas, String figure) {
    return transport + "/" + replicas + "/" + figure;
  }
}
