package io.replicador.broker;

import com.rabbitmq.client.ConfirmListener;
import com.rabbitmq.client.ShutdownSignalException;
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
  private ShutdownSignalException lost;

  /** Notes a message about to be published with this sequence number. */
  synchronized void published(long sequence) {
    outstanding.add(sequence);
  }

  /** Whether every message up to and including {@code sequence} is confirmed. */
  synchronized boolean confirmed(long sequence) throws IOException {
    if (refused) {
      throw new IOException("The broker refused a message (nack); publishing again");
    }
    boolean done = outstanding.isEmpty() || outstanding.first() > sequence;
    if (!done && lost != null) {
      // no confirm comes on a closed channel: say so now rather than at the timeout
      String why = BrokerFailures.describe(lost);
      throw new IOException(
          "The channel closed before the broker confirmed ("
              + (why != null ? why : String.valueOf(lost.getMessage()))
              + ")",
          lost);
    }
    return done;
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

  /** The channel closed: what is unconfirmed now never will be. */
  synchronized void lost(ShutdownSignalException cause) {
    lost = cause;
    notifyAll();
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
