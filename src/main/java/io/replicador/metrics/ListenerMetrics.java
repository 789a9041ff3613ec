package io.replicador.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One replica's listener meters, each tagged {@code replica} (docs/monitoring.md lists them all).
 * The listener calls the hooks on its thread; gauges are read when scraped. Thread-safe.
 */
public final class ListenerMetrics {
  /** The {@code table} tag when a halt is not about one table (an unreadable message). */
  public static final String NO_TABLE = "none";

  private final MeterRegistry registry;
  private final String replica;
  private final Readiness readiness;
  private final Counter transactions;
  private final Map<String, Counter> changesByTable = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> positions = new ConcurrentHashMap<>();
  private final Counter redeliveries;
  private final Counter deadLetters;
  private final Counter reconnects;
  private final Timer lag;
  private final Timer replicaTransaction;
  private final MultiGauge halted;
  private volatile String haltedOn;

  /**
   * @param readiness where a halt is reported as a problem
   */
  public ListenerMetrics(MeterRegistry registry, String replica, Readiness readiness) {
    this.registry = registry;
    this.replica = replica;
    this.readiness = readiness;
    transactions =
        Counter.builder("replicador.listener.transactions.applied")
            .tag("replica", replica)
            .description("Source transactions committed on the replica")
            .register(registry);
    redeliveries =
        Counter.builder("replicador.listener.redeliveries.skipped")
            .tag("replica", replica)
            .description("Source transactions delivered again and skipped, already applied")
            .register(registry);
    deadLetters =
        Counter.builder("replicador.listener.dead.letters")
            .tag("replica", replica)
            .description("Messages moved to the replica's dead-letter queue")
            .register(registry);
    reconnects =
        Counter.builder("replicador.listener.reconnects")
            .tag("replica", replica)
            .description("Sessions started again after a lost connection to the replica or broker")
            .register(registry);
    lag =
        Timer.builder("replicador.listener.lag")
            .tag("replica", replica)
            .description(
                "Time from the publisher publishing a message to the replica committing it")
            .serviceLevelObjectives(
                PublisherMetrics.ms(5),
                PublisherMetrics.ms(10),
                PublisherMetrics.ms(25),
                PublisherMetrics.ms(50),
                PublisherMetrics.ms(100),
                PublisherMetrics.ms(250),
                PublisherMetrics.ms(1000),
                PublisherMetrics.ms(5000),
                PublisherMetrics.ms(30000),
                PublisherMetrics.ms(300000))
            .register(registry);
    replicaTransaction =
        Timer.builder("replicador.listener.replica.transaction")
            .tag("replica", replica)
            .description("Time one replica transaction takes, from its first statement to commit")
            .serviceLevelObjectives(
                PublisherMetrics.ms(1),
                PublisherMetrics.ms(5),
                PublisherMetrics.ms(20),
                PublisherMetrics.ms(100),
                PublisherMetrics.ms(500),
                PublisherMetrics.ms(2000))
            .register(registry);
    halted =
        MultiGauge.builder("replicador.listener.halted")
            .tag("replica", replica)
            .description(
                "1 while the listener retries a change the replica cannot take (or a message it"
                    + " cannot read) and applies nothing after it; table names it")
            .register(registry);
    updateHalted();
  }

  /** Meters that go nowhere, for a listener run without {@code --metrics}. */
  public static ListenerMetrics none(String replica) {
    return new ListenerMetrics(new CompositeMeterRegistry(), replica, new Readiness());
  }

  /** Changes of {@code table} were committed on the replica. */
  public void appliedChanges(String table, long count) {
    changesByTable
        .computeIfAbsent(
            table,
            t ->
                Counter.builder("replicador.listener.changes.applied")
                    .tags("replica", replica, "table", t)
                    .description("Row changes committed on the replica")
                    .register(registry))
        .increment(count);
  }

  public void appliedTransactions(long count) {
    transactions.increment(count);
  }

  /** The last applied position of {@code source}, as committed. */
  public void position(String source, long position) {
    positions
        .computeIfAbsent(
            source,
            s -> {
              AtomicLong value = new AtomicLong();
              Gauge.builder("replicador.listener.applied.position", value, AtomicLong::get)
                  .tags("replica", replica, "source", s)
                  .description("Last position of the source committed on the replica")
                  .register(registry);
              return value;
            })
        .set(position);
  }

  public void lag(long millis) {
    lag.record(Math.max(0, millis), TimeUnit.MILLISECONDS);
  }

  public void replicaTransaction(long nanos) {
    replicaTransaction.record(nanos, TimeUnit.NANOSECONDS);
  }

  public void redeliveriesSkipped(long count) {
    redeliveries.increment(count);
  }

  public void deadLettered() {
    deadLetters.increment();
  }

  public void reconnected() {
    reconnects.increment();
  }

  /**
   * The listener applies nothing until this change (of {@code table}, or null when not about one
   * table) goes through; makes the process not ready with {@code reason}.
   */
  public void halted(String table, String reason) {
    String on = table == null ? NO_TABLE : table;
    if (!on.equals(haltedOn)) {
      haltedOn = on;
      updateHalted();
    }
    readiness.problem("halted", reason);
  }

  /** It applies again. */
  public void resumed() {
    if (haltedOn != null) {
      haltedOn = null;
      updateHalted();
      readiness.clear("halted");
    }
  }

  private void updateHalted() {
    String on = haltedOn;
    halted.register(
        List.of(
            MultiGauge.Row.of(Tags.of("table", on == null ? NO_TABLE : on), on == null ? 0 : 1)),
        true);
  }
}
