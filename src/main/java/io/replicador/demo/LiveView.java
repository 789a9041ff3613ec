package io.replicador.demo;

import io.replicador.demo.ProgressProbe.ReplicaState;
import io.replicador.demo.ProgressProbe.Sample;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Shows the demo's progress: on a terminal one status line redrawn in place, otherwise one plain
 * line per sample (and, when idle, only when something changed). Not thread-safe.
 */
final class LiveView {
  private static final String CLEAR_LINE = "\r\033[2K";

  private final PrintStream out;
  private final boolean redraw;
  private String last = "";
  private boolean open;

  private final boolean walCapture;

  LiveView(PrintStream out, boolean redraw, boolean walCapture) {
    this.out = out;
    this.redraw = redraw;
    this.walCapture = walCapture;
  }

  void header() {
    out.println(
        "Transactions written on the primary, captured "
            + (walCapture ? "in the WAL" : "by the triggers")
            + ", shipped to the broker,"
            + " and applied on each replica (lag: how far its newest row is behind the primary's):");
  }

  void show(Sample s) {
    String line = format(s);
    String withoutTime = line.substring(line.indexOf('|'));
    if (redraw) {
      out.print(CLEAR_LINE + line);
      out.flush();
      open = true;
    } else if (!withoutTime.equals(last)) {
      out.println(line);
    }
    last = withoutTime;
  }

  /** Ends the redrawn line so that other output starts on a line of its own. */
  void endLine() {
    if (open) {
      out.println();
      open = false;
    }
  }

  static String format(Sample s) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%4ds", s.elapsed().toSeconds()))
        .append(" | written ")
        .append(s.written())
        .append(" | captured ")
        .append(s.captured())
        .append(" | shipped ")
        .append(s.shipped());
    for (ReplicaState r : s.replicas()) {
      sb.append(" | ")
          .append(r.name())
          .append(' ')
          .append(r.applied())
          .append(
              r.lag() == null
                  ? " (lag -)"
                  : String.format(Locale.ROOT, " (lag %.2f s)", r.lag().toMillis() / 1000.0));
    }
    return sb.toString();
  }
}
