package io.replicador.broker;

import com.rabbitmq.client.ConfirmListener;
import java.io.IOException;
import java.time.Duration;
import java.util.NavigableSet;
import java.util.TreeSet;

/**
 * The broker's answers for one confirm-mode channel: which publish sequence numbers are still
 * unconfirmed, whether any was refused (nack) and whether any came back unroutable (return).
 * Thread-safe: the client library reports on its own thread.
 */
final class Confirms implements ConfirmListener {
  private final NavigableSet<Long> outstanding = new TreeSet<>();
  private boolean refused;
  private boolean returned;

  /** Notes a message about to be published with this sequence number. */
  synchronized void published(long sequence) {
    outstanding.add(sequence);
  }

  /** Whether every message up to and including {@code sequence} is confirmed. */
  synchronized boolean confirmed(long sequence) throws IOException {
    if (refused) {
      throw new IOException("The broker refused a message (nack); publishing again");
    }
    return outstanding.isEmpty() || outstanding.first() > sequence;
  }

  /** Waits until every message up to {@code sequence} is confirmed; false if it timed out. */
  synchronized boolean await(long sequence, Duration timeout)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!confirmed(sequence)) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      wait(Math.max(1, left / 1_000_000));
    }
    return true;
  }

  synchronized boolean returned() {
    return returned;
  }

  synchronized void markReturned() {
    returned = true;
  }

  synchronized void clearReturned() {
    returned = false;
  }

  @Override
  public synchronized void handleAck(long tag, boolean multiple) {
    if (multiple) {
      outstanding.headSet(tag, true).clear();
    } else {
      outstanding.remove(tag);
    }
    notifyAll();
  }

  @Override
  public synchronized void handleNack(long tag, boolean multiple) {
    refused = true;
    handleAck(tag, multiple);
  }
}
