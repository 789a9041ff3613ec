package io.replicador.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

/**
 * The publisher's meters (names as Prometheus shows them; docs/monitoring.md lists them all). The
 * publisher calls the hooks on its thread; the backlog and slot gauges are read when scraped.
 * Thread-safe.
 */
public final class PublisherMetrics {
  /**
   * What waits on the primary, as a probe read it.
   *
   * @param oldestAgeSeconds null where the primary does not keep commit timestamps
   */
  public record Backlog(long changes, long transactions, Double oldestAgeSeconds) {}

  private final MeterRegistry registry;
  private final Counter transactions;
  private final Counter changes;
  private final Counter bytes;
  private final Counter reconnects;
  private final DistributionSummary batchChanges;
  private final Timer claim;
  private final Timer confirm;
  private final Map<String, AtomicReference<Supplier<Double>>> slots = new ConcurrentHashMap<>();

  public PublisherMetrics(MeterRegistry registry) {
    this.registry = registry;
    transactions =
        Counter.builder("replicador.publisher.transactions.shipped")
            .description("Source transactions shipped: published and confirmed by the broker")
            .register(registry);
    changes =
        Counter.builder("replicador.publisher.changes.shipped")
            .description("Row changes shipped: published and confirmed by the broker")
            .register(registry);
    bytes =
        Counter.builder("replicador.publisher.published")
            .baseUnit("bytes")
            .description("Bytes of message bodies published (a batch published again counts again)")
            .register(registry);
    reconnects =
        Counter.builder("replicador.publisher.reconnects")
            .description("Sessions started again after a lost connection to the primary or broker")
            .register(registry);
    batchChanges =
        DistributionSummary.builder("replicador.publisher.batch.changes")
            .description("Row changes per shipped batch")
            .serviceLevelObjectives(1, 10, 100, 1_000, 10_000, 100_000)
            .register(registry);
    claim =
        Timer.builder("replicador.publisher.claim")
            .description("Time a claim of the next batch takes on the primary")
            .serviceLevelObjectives(ms(1), ms(5), ms(20), ms(100), ms(500), ms(2000))
            .register(registry);
    confirm =
        Timer.builder("replicador.publisher.confirm")
            .description("Time from publishing a batch to the broker's confirm of all of it")
            .serviceLevelObjectives(ms(1), ms(5), ms(20), ms(100), ms(500), ms(2000), ms(10000))
            .register(registry);
  }

  /** Meters that go nowhere, for a publisher run without {@code --metrics}. */
  public static PublisherMetrics none() {
    return new PublisherMetrics(new CompositeMeterRegistry());
  }

  static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }

  /** A batch was confirmed and settled. */
  public void shipped(long transactions, long changes) {
    this.transactions.increment(transactions);
    this.changes.increment(changes);
    batchChanges.record(changes);
  }

  /** A message body of {@code bytes} was published. */
  public void published(long bytes) {
    this.bytes.increment(bytes);
  }

  public void claimed(long nanos) {
    claim.record(nanos, TimeUnit.NANOSECONDS);
  }

  public void confirmed(long nanos) {
    confirm.record(nanos, TimeUnit.NANOSECONDS);
  }

  public void reconnected() {
    reconnects.increment();
  }

  /**
   * Adds the backlog gauges, read from {@code probe} when scraped (it may cache); a probe that
   * returns null (the primary cannot be read) shows them as NaN.
   */
  public void backlog(Supplier<Backlog> probe) {
    Gauge.builder("replicador.publisher.backlog.changes", probe, p -> value(p, Backlog::changes))
        .description("Row changes committed on the primary and not yet shipped")
        .register(registry);
    Gauge.builder(
            "replicador.publisher.backlog.transactions",
            probe,
            p -> value(p, Backlog::transactions))
        .description("Source transactions committed on the primary and not yet shipped")
        .register(registry);
    Gauge.builder(
            "replicador.publisher.backlog.oldest.age",
            probe,
            p -> {
              Backlog b = p.get();
              return b == null || b.oldestAgeSeconds() == null ? Double.NaN : b.oldestAgeSeconds();
            })
        .baseUnit("seconds")
        .description("Age of the oldest change not yet shipped (needs track_commit_timestamp = on)")
        .register(registry);
  }

  /**
   * Adds {@code replicador_slot_retained_wal_bytes}: the WAL the primary keeps for the logical
   * replication slot, for a publisher reading from one. The source calls this when it knows its
   * slot (again in each session: the latest {@code bytes} is read); {@code bytes} is read when
   * scraped, must not block long, and may return NaN when unknown.
   */
  public void slotRetainedWal(String slot, Supplier<Double> bytes) {
    // a source that starts a new session calls this again: the gauge then reads the new supplier
    slots
        .computeIfAbsent(
            slot,
            s -> {
              AtomicReference<Supplier<Double>> current = new AtomicReference<>();
              Gauge.builder("replicador.slot.retained.wal", current, c -> c.get().get())
                  .tag("slot", s)
                  .baseUnit("bytes")
                  .description("WAL the primary retains for the replication slot")
                  .register(registry);
              return current;
            })
        .set(bytes);
  }

  private static double value(Supplier<Backlog> probe, ToLongFunction<Backlog> field) {
    Backlog b = probe.get();
    return b == null ? Double.NaN : field.applyAsLong(b);
  }
}
