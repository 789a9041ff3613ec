package io.replicador.snapshot;

import io.replicador.change.TableName;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/** How far the copy of one table is. Thread-safe: the copier writes, the reporter reads. */
public final class TableProgress {
  /** Where the table's copy stands. */
  public enum State {
    WAITING,
    COPYING,
    DONE,
    SKIPPED
  }

  private final TableName table;
  private final long estimatedRows;
  private final AtomicLong rows = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private volatile State state = State.WAITING;
  private volatile Instant started;
  private volatile Instant finished;

  TableProgress(TableName table, long estimatedRows) {
    this.table = table;
    this.estimatedRows = estimatedRows;
  }

  void start(Instant now) {
    started = now;
    state = State.COPYING;
  }

  void finish(State end, Instant now) {
    finished = now;
    state = end;
  }

  void add(long addedRows, long addedBytes) {
    rows.addAndGet(addedRows);
    bytes.addAndGet(addedBytes);
  }

  public TableName table() {
    return table;
  }

  public State state() {
    return state;
  }

  public long rows() {
    return rows.get();
  }

  public long bytes() {
    return bytes.get();
  }

  /** One line: table, rows (of the estimate), MB/s and ETA while copying. */
  public String describe(Instant now) {
    return switch (state) {
      case WAITING -> table + ": waiting";
      case SKIPPED -> table + ": already copied by an earlier run, skipped";
      case COPYING, DONE -> {
        Instant end = state == State.DONE ? finished : now;
        double seconds = Math.max(0.001, Duration.between(started, end).toMillis() / 1000.0);
        long r = rows.get();
        double mbPerSecond = bytes.get() / 1e6 / seconds;
        String head =
            String.format(
                Locale.ROOT,
                "%s: %,d rows%s, %.1f MB/s",
                table,
                r,
                state == State.COPYING && estimatedRows > 0
                    ? " of ~" + String.format(Locale.ROOT, "%,d", estimatedRows)
                    : "",
                mbPerSecond);
        if (state == State.DONE) {
          yield head + String.format(Locale.ROOT, ", done in %.1f s", seconds);
        }
        double rowsPerSecond = r / seconds;
        if (estimatedRows > r && rowsPerSecond > 0) {
          long eta = Math.round((estimatedRows - r) / rowsPerSecond);
          yield head + ", ETA " + eta + " s";
        }
        yield head;
      }
    };
  }
}
