package io.replicador.apply;

import io.replicador.broker.ChangeSubscription;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;

/**
 * Deliveries applied and committed but not yet acknowledged, because the replica's WAL holding
 * their commit may not be on disk yet. Acknowledging only flushed commits keeps the promise of
 * acknowledging after commit: if the replica crashes and loses a commit, its messages come again.
 * Not thread-safe.
 */
final class Acknowledgements {
  /** Deliveries up to {@code tag}, whose commit ends at or before WAL position {@code wal}. */
  private record Awaiting(long wal, long tag, int count, long sinceNanos) {}

  private final ArrayDeque<Awaiting> awaiting = new ArrayDeque<>();
  private int messages;

  int waiting() {
    return messages;
  }

  void await(long wal, long tag, int count) {
    awaiting.add(new Awaiting(wal, tag, count, System.nanoTime()));
    messages += count;
  }

  boolean waitedLongerThan(Duration d) {
    return !awaiting.isEmpty() && System.nanoTime() - awaiting.peek().sinceNanos() > d.toNanos();
  }

  void acknowledgeFlushed(ChangeSubscription<?> channel, long flushed) throws IOException {
    long tag = -1;
    while (!awaiting.isEmpty() && awaiting.peek().wal() <= flushed) {
      Awaiting a = awaiting.poll();
      tag = a.tag();
      messages -= a.count();
    }
    if (tag >= 0) {
      channel.acknowledge(tag);
    }
  }

  /** A commit that waited for the disk made everything before it durable too. */
  void acknowledgeAll(ChangeSubscription<?> channel, long tag) throws IOException {
    awaiting.clear();
    messages = 0;
    channel.acknowledge(tag);
  }

  /** Everything awaiting, once made durable. */
  void acknowledgeAll(ChangeSubscription<?> channel) throws IOException {
    if (!awaiting.isEmpty()) {
      acknowledgeAll(channel, awaiting.peekLast().tag());
    }
  }
}
