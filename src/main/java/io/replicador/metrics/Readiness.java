package io.replicador.metrics;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Whether a process is ready, and if not why: named problems that the process sets and clears as
 * they come and go (a lost session, a halt), and probes asked at each check (a database that
 * answers), each giving null when fine or a one-line reason. Thread-safe: the process sets problems
 * on its own threads, the HTTP server reads them on its own.
 */
public final class Readiness {
  private final Map<String, String> problems = new ConcurrentHashMap<>();
  private final Map<String, CachedProbe> probes = new ConcurrentHashMap<>();

  /** Records (or replaces) a problem under {@code check}, e.g. "session" or "halted". */
  public void problem(String check, String reason) {
    problems.put(check, reason);
  }

  /** Clears the problem under {@code check}, if any. */
  public void clear(String check) {
    problems.remove(check);
  }

  /**
   * Adds a probe asked when readiness is checked, at most once per {@code every} (a probe that
   * connects to a server should not do so for every scrape).
   *
   * @param probe returns null when fine, else the reason; may block briefly, must not throw
   */
  public void probe(String check, Duration every, Supplier<String> probe) {
    probes.put(check, new CachedProbe(probe, every));
  }

  /** The problems now, by check, in a stable order; empty when ready. */
  public Map<String, String> problems() {
    Map<String, String> out = new LinkedHashMap<>();
    new TreeMap<>(problems).forEach(out::put);
    new TreeMap<>(probes)
        .forEach(
            (check, probe) -> {
              String reason = probe.reason();
              if (reason != null) {
                out.putIfAbsent(check, reason);
              }
            });
    return out;
  }

  private static final class CachedProbe {
    private final Supplier<String> probe;
    private final long everyNanos;
    private long askedAt;
    private boolean asked;
    private String last;

    CachedProbe(Supplier<String> probe, Duration every) {
      this.probe = probe;
      this.everyNanos = every.toNanos();
    }

    synchronized String reason() {
      long now = System.nanoTime();
      if (!asked || now - askedAt >= everyNanos) {
        last = probe.get();
        askedAt = now;
        asked = true;
      }
      return last;
    }
  }
}
