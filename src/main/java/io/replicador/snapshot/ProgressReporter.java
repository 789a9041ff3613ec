package io.replicador.snapshot;

import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Shows the copy's progress: on a terminal, a block of lines (one per table) redrawn every second;
 * otherwise a plain line per active table every ten seconds, fit for logs. Owns one daemon thread,
 * stopped by {@link #close}.
 */
public final class ProgressReporter implements AutoCloseable {
  private final List<TableProgress> tables;
  private final PrintStream out;
  private final boolean terminal;
  private final Clock clock;
  private final ScheduledExecutorService timer;
  private int drawnLines;

  public ProgressReporter(
      List<TableProgress> tables, PrintStream out, boolean terminal, Clock clock) {
    this.tables = List.copyOf(tables);
    this.out = out;
    this.terminal = terminal;
    this.clock = clock;
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "replicador-snapshot-progress");
              t.setDaemon(true);
              return t;
            });
    Duration every = terminal ? Duration.ofSeconds(1) : Duration.ofSeconds(10);
    timer.scheduleAtFixedRate(
        this::report, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
  }

  private synchronized void report() {
    if (terminal) {
      redraw();
    } else {
      for (TableProgress t : tables) {
        if (t.state() == TableProgress.State.COPYING) {
          out.println("snapshot progress: " + t.describe(clock.instant()));
        }
      }
    }
  }

  private void redraw() {
    StringBuilder sb = new StringBuilder();
    if (drawnLines > 0) {
      sb.append("\033[").append(drawnLines).append('A');
    }
    for (TableProgress t : tables) {
      sb.append("\r\033[2K").append(t.describe(clock.instant())).append('\n');
    }
    drawnLines = tables.size();
    out.print(sb);
    out.flush();
  }

  /** Stops reporting and prints the final state of every table. */
  @Override
  public synchronized void close() {
    timer.shutdownNow();
    if (terminal) {
      redraw();
    } else {
      for (TableProgress t : tables) {
        out.println("snapshot: " + t.describe(clock.instant()));
      }
    }
    out.flush();
  }
}
