package io.replicador.publish;

import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.SourceTransaction;
import java.util.ArrayList;
import java.util.List;

/**
 * Packs the changes of consecutive source transactions into bounded messages.
 *
 * <p>Small transactions share a message. A transaction larger than one message is sent as parts,
 * each in a message of its own, the last part marked {@code last}; so neither side ever holds a
 * whole large transaction in memory. Not thread-safe.
 */
public final class MessageAssembler {
  private final String source;
  private final int maxChanges;
  private final long maxBytes;
  private final MessageSink sink;

  private final List<SourceTransaction> ready = new ArrayList<>();
  private int readyChanges;
  private long readyBytes;

  private String txid;
  private long position;
  private final List<Change> current = new ArrayList<>();
  private long currentBytes;
  private int partsSent;

  public MessageAssembler(
      String source, long firstPosition, int maxChanges, long maxBytes, MessageSink sink) {
    this.source = source;
    this.position = firstPosition - 1;
    this.maxChanges = maxChanges;
    this.maxBytes = maxBytes;
    this.sink = sink;
  }

  public void add(String changeTxid, Change change, long bytes) throws Exception {
    if (!changeTxid.equals(txid)) {
      endTransaction();
      txid = changeTxid;
      position++;
    }
    current.add(change);
    currentBytes += bytes;
    if (current.size() >= maxChanges || currentBytes >= maxBytes) {
      flushReady();
      send(List.of(new SourceTransaction(position, txid, partsSent, false, current)));
      partsSent++;
      current.clear();
      currentBytes = 0;
    } else if (readyChanges + current.size() > maxChanges || readyBytes + currentBytes > maxBytes) {
      flushReady();
    }
  }

  /** Ends the last transaction and sends what is left. Returns the last position assembled. */
  public long finish() throws Exception {
    endTransaction();
    flushReady();
    return position;
  }

  private void endTransaction() throws Exception {
    if (txid == null) {
      return;
    }
    if (partsSent > 0) {
      send(List.of(new SourceTransaction(position, txid, partsSent, true, current)));
    } else {
      ready.add(new SourceTransaction(position, txid, 0, true, current));
      readyChanges += current.size();
      readyBytes += currentBytes;
      if (readyChanges >= maxChanges || readyBytes >= maxBytes) {
        flushReady();
      }
    }
    txid = null;
    current.clear();
    currentBytes = 0;
    partsSent = 0;
  }

  private void flushReady() throws Exception {
    if (!ready.isEmpty()) {
      send(List.copyOf(ready));
      ready.clear();
      readyChanges = 0;
      readyBytes = 0;
    }
  }

  private void send(List<SourceTransaction> transactions) throws Exception {
    sink.send(new ChangeMessage(source, transactions));
  }

  /** Receives each finished message. */
  @FunctionalInterface
  public interface MessageSink {
    void send(ChangeMessage message) throws Exception;
  }
}
