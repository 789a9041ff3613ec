package io.replicador.publish;

import io.replicador.broker.ChangePublication;
import io.replicador.metrics.PublisherMetrics;
import io.replicador.schema.TableCatalog;
import io.replicador.store.ChangeLogReader;
import io.replicador.store.ClaimedBatch;
import io.replicador.store.LargeRowReader;
import java.io.IOException;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns claimed batches into change messages and publishes them, and tracks which batches the
 * broker has confirmed whole. Reads through the publisher's primary connection; one thread.
 */
final class BatchShipper {
  private final ChangePublication publication;
  private final String source;
  private final ChangeLogReader reader;
  private final PublisherSettings settings;
  private final RelationCache relations;
  private final LargeRowReader largeRows;
  private final MessageSender sender;
  private final Map<ClaimedBatch, Long> lastSequence = new IdentityHashMap<>();
  private final Map<ClaimedBatch, Long> changes = new IdentityHashMap<>();
  private final Map<ClaimedBatch, Long> publishedAt = new IdentityHashMap<>();
  private PublisherMetrics metrics = PublisherMetrics.none();

  BatchShipper(
      ChangePublication publication,
      String source,
      ChangeLogReader reader,
      Connection pg,
      PublisherSettings settings,
      Clock clock) {
    this.publication = publication;
    this.sender = new MessageSender(publication, source, clock);
    this.source = source;
    this.reader = reader;
    this.settings = settings;
    this.relations = new RelationCache(new TableCatalog(pg), clock);
    this.largeRows = new LargeRowReader(pg);
  }

  /** Sets where the shipper's meters go; returns this. */
  BatchShipper measuredBy(PublisherMetrics metrics) {
    this.metrics = metrics;
    sender.measuredBy(metrics);
    return this;
  }

  /** Reads the batch from the changelog and publishes it, without waiting for confirms. */
  void publish(ClaimedBatch batch) throws Exception {
    AtomicLong count = new AtomicLong();
    MessageAssembler assembler =
        new MessageAssembler(
            source,
            batch.firstPosition(),
            settings.messageChanges(),
            settings.messageBytes(),
            sender::send);
    reader.read(
        batch,
        row -> {
          if (row.large()) {
            relations.toChanges(
                row, largeRows, (change, bytes) -> assembler.add(row.txid(), change, bytes));
          } else {
            assembler.add(row.txid(), relations.toChange(row), row.approximateBytes());
          }
          count.incrementAndGet();
        });
    long last = assembler.finish();
    if (last != batch.lastPosition()) {
      throw new IllegalStateException(
          "Batch at position "
              + batch.firstPosition()
              + " has rows for positions up to "
              + last
              + " but claimed up to "
              + batch.lastPosition()
              + "; the changelog was changed by something other than the publisher");
    }
    lastSequence.put(batch, sender.lastSequence());
    changes.put(batch, count.get());
    publishedAt.put(batch, System.nanoTime());
  }

  /** The oldest batches, in order, whose messages the broker has all confirmed. */
  List<ClaimedBatch> confirmed(List<ClaimedBatch> inFlight) throws IOException {
    List<ClaimedBatch> done = new ArrayList<>();
    for (ClaimedBatch b : inFlight) {
      if (!publication.confirmed(lastSequence.get(b))) {
        break;
      }
      done.add(b);
      Long at = publishedAt.remove(b);
      if (at != null) {
        metrics.confirmed(System.nanoTime() - at);
      }
    }
    return done;
  }

  /** Waits until the batch is confirmed; false if it is not within the timeout. */
  boolean awaitConfirm(ClaimedBatch batch, Duration timeout)
      throws IOException, InterruptedException {
    return publication.awaitConfirmed(lastSequence.get(batch), timeout);
  }

  /** Forgets batches whose deletion was committed; returns how many changes they held. */
  long settled(ClaimedBatch shipped) {
    lastSequence.remove(shipped);
    return changes.remove(shipped);
  }

  /** Whether a message came back for want of a queue. */
  boolean returned() {
    return publication.returned();
  }

  /** Publishes the batches in flight again, in order and with the same positions. */
  void republish(List<ClaimedBatch> inFlight) throws Exception {
    publication.clearReturned();
    for (ClaimedBatch b : inFlight) {
      publish(b);
    }
  }
}
