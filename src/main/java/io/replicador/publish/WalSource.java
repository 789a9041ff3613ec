package io.replicador.publish;

import io.replicador.broker.ChangePublication;
import io.replicador.change.Change;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.schema.TableCatalog;
import io.replicador.store.PrimaryStore;
import io.replicador.store.WalCaptureStore;
import io.replicador.store.WalCaptureStore.Slot;
import io.replicador.store.WalCaptureStore.WalCapture;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Changes from the primary's logical replication slot ({@code install --capture wal}): reads the
 * slot with pgoutput through a replication connection of its own and ships each committed
 * transaction as the trigger source would, with the same gap-free positions.
 *
 * <p>Transactions are shipped in batches. Once the broker confirmed them, the end of the last
 * commit and its position are committed to {@code replicador.wal_capture} and {@code
 * replicador.publisher} (now and then while busy), and only then is the slot told to let go of that
 * WAL. A publisher that dies anywhere in between gets the same transactions again from the slot: it
 * skips those that end at or before the recorded end, and numbers the rest from the recorded
 * position on, so a replayed transaction gets the positions it had and replicas recognise it. A
 * large transaction goes out in parts as it is decoded (pgoutput sends a transaction once it
 * committed; the server spills it to disk meanwhile), so the publisher holds none of it whole.
 *
 * <p>Runs on the publisher's thread, with the publisher's connection (which holds the publisher
 * lock) for bookkeeping.
 */
final class WalSource implements ChangeSource {
  private static final Logger log = LoggerFactory.getLogger(WalSource.class);
  private static final Duration CONFIRM_TIMEOUT = Duration.ofSeconds(60);

  /** How often an idle publisher reads the WAL its slot retains, for the gauge. */
  private static final Duration RETAINED_READ_EVERY = Duration.ofSeconds(5);

  /** How often at most the publisher records its progress on the primary while busy. */
  private static final Duration RECORD_EVERY = Duration.ofMillis(100);

  /** Transactions per batch at most; a batch also ends when the slot has nothing more for now. */
  private static final int BATCH_TRANSACTIONS = 10_000;

  private final Connection pg;
  private final PostgresAddress primary;
  private final WalCapture capture;
  private final ChangePublication publication;
  private final String source;
  private final PublisherSettings settings;
  private final TriggerSource.Stats stats;
  private final TriggerSource.Pauser pauser;
  private final BooleanSupplier running;
  private final WalCaptureStore store;
  private long nextFullXid;

  /** The WAL the slot retains, as last read, for the metrics server's threads. */
  private volatile double retainedBytes = Double.NaN;

  private long retainedReadAt;

  WalSource(
      Connection pg,
      WalCapture capture,
      ChangePublication publication,
      String source,
      PublisherSettings settings,
      TriggerSource.Stats stats,
      TriggerSource.Pauser pauser,
      BooleanSupplier running) {
    this.pg = pg;
    this.primary = settings.primary();
    this.capture = capture;
    this.publication = publication;
    this.source = source;
    this.settings = settings;
    this.stats = stats;
    this.pauser = pauser;
    this.running = running;
    this.store = new WalCaptureStore(pg);
  }

  /** Why a pass over the stream ended. */
  private enum Outcome {
    STOPPED,
    /** a message came back for want of a queue: read the slot again from what was shipped */
    RETURNED,
    /** install --capture trigger moved the tables back to triggers, and all before is shipped */
    ENDED
  }

  @Override
  public void ship() throws Exception {
    while (running.getAsBoolean()) {
      switch (stream()) {
        case STOPPED:
          return;
        case ENDED:
          // the walsender of the closed stream may take a moment to let go of the slot
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          while (!store.dropSlot(capture.slot()) && System.nanoTime() < deadline) {
            pg.commit();
            if (!pauser.pause(Duration.ofMillis(100))) {
              break;
            }
          }
          pg.commit();
          log.info(
              "Capture moved back to triggers: shipped the slot up to the move, dropped slot {}"
                  + " and publication {}",
              capture.slot(),
              capture.publication());
          return;
        case RETURNED:
          if (!pauser.pause(Duration.ofSeconds(5))) {
            return;
          }
          break;
      }
    }
  }

  /** Reads the slot until stopped, a message came back unrouted, or capture moved to triggers. */
  private Outcome stream() throws Exception {
    Slot slot = usableSlot();
    retainedBytes = slot.retainedBytes();
    retainedReadAt = System.nanoTime();
    stats.metrics.slotRetainedWal(slot.name(), () -> retainedBytes);
    long shippedLsn = store.find().map(WalCapture::shippedLsn).orElse(0L);
    long nextPosition = new PrimaryStore(pg, primary.toString()).lastPosition() + 1;
    pg.commit();
    try (Connection replication = primary.connectForReplication("replicador-publish-wal")) {
      try (Statement st = replication.createStatement()) {
        // Values are printed by the walsender under these settings: the capture functions' own,
        // so both sources give the same text, and the listener reads it back exactly.
        st.execute("SET datestyle = 'ISO, YMD'");
        st.execute("SET intervalstyle = 'postgres'");
        st.execute("SET extra_float_digits = 3");
        st.execute("SET bytea_output = 'hex'");
        st.execute("SET lc_monetary = 'C'");
      }
      // verify's marks (pg_logical_emit_message) come through, so that it can tell when the
      // publisher has read past a point
      try (PGReplicationStream stream =
          replication
              .unwrap(PGConnection.class)
              .getReplicationAPI()
              .replicationStream()
              .logical()
              .withSlotName(slot.name())
              .withStartPosition(LogSequenceNumber.valueOf(Math.max(shippedLsn, 0)))
              .withSlotOption("proto_version", 1)
              .withSlotOption("publication_names", capture.publication())
              .withSlotOption("messages", true)
              .withStatusInterval(10, TimeUnit.SECONDS)
              .start()) {
        log.info(
            "Reading slot {} (publication {}) from {}, next position {}",
            slot.name(),
            capture.publication(),
            LogSequenceNumber.valueOf(Math.max(shippedLsn, slot.confirmedLsn())).asString(),
            nextPosition);
        Outcome outcome = new Reader(stream, shippedLsn, nextPosition).run();
        if (outcome == Outcome.ENDED) {
          store.forget();
          store.dropPublication();
          pg.commit();
        }
        return outcome;
      }
    }
  }

  /** One pass over the stream: its batch in the making and what is shipped. */
  private final class Reader {
    private final PGReplicationStream stream;
    private final WalChanges changes = new WalChanges(new TableCatalog(pg));

    /** Describes the rows verify --repair re-emits, as the trigger source describes its rows. */
    private final RelationCache refreshes =
        new RelationCache(new TableCatalog(pg), Clock.systemUTC());

    private final MessageSender sender =
        new MessageSender(publication, source, Clock.systemUTC()).measuredBy(stats.metrics);
    private long shippedLsn;
    private long nextPosition;
    private MessageAssembler assembler;
    private int batchTransactions;
    private long batchChanges;
    private long batchEnd;
    private boolean inTransaction;
    private boolean skipping;
    private String xid;
    private long transactionChanges;
    private long mark;
    private boolean endSeen;
    private boolean ended;
    private boolean unrecorded;
    private long recordedAt = System.nanoTime();

    Reader(PGReplicationStream stream, long shippedLsn, long nextPosition) {
      this.stream = stream;
      this.shippedLsn = shippedLsn;
      this.nextPosition = nextPosition;
    }

    Outcome run() throws Exception {
      long quietSince = System.nanoTime();
      while (running.getAsBoolean()) {
        ByteBuffer buffer = read();
        if (buffer != null) {
          quietSince = System.nanoTime();
          handle(PgOutput.decode(buffer));
          if (ended) {
            boolean returned = assembler != null && flush();
            record(true);
            return returned ? Outcome.RETURNED : Outcome.ENDED;
          }
          if (!inTransaction
              && assembler != null
              && (batchTransactions >= BATCH_TRANSACTIONS || batchChanges >= settings.batchRows())
              && flush()) {
            record(true);
            return Outcome.RETURNED;
          }
          continue;
        }
        if (!inTransaction && assembler != null) {
          if (flush()) {
            record(true);
            return Outcome.RETURNED;
          }
          continue;
        }
        if (!inTransaction) {
          settleIdle();
        }
        // nothing to read: wait briefly, longer the longer it has been quiet
        long quiet = System.nanoTime() - quietSince;
        pauser.pause(
            quiet < TimeUnit.SECONDS.toNanos(1) ? Duration.ofMillis(1) : Duration.ofMillis(20));
      }
      if (!inTransaction && assembler != null) {
        flush();
      }
      record(true);
      return Outcome.STOPPED;
    }

    /**
     * The next message, if one is there. pgoutput sends a row in one message, its values whole: a
     * row larger than the heap can hold is a setting to change, not a failure to retry.
     */
    private ByteBuffer read() throws SQLException {
      try {
        return stream.readPending();
      } catch (OutOfMemoryError e) {
        throw new ConfigException(
            "A row in slot "
                + capture.slot()
                + " is too large for this publisher's heap ("
                + (Runtime.getRuntime().maxMemory() >> 20)
                + " MB): the slot sends each row whole. Give the publisher more heap"
                + " (REPLICADOR_JAVA_OPTS=-Xmx...), or capture the table with triggers (install"
                + " --capture trigger), which ship values of any size in pieces");
      }
    }

    private void handle(PgOutput.Message m) throws Exception {
      if (m instanceof PgOutput.Begin b) {
        inTransaction = true;
        // the commit record starts at finalLsn: a transaction whose commit ends at or before
        // what was shipped was shipped (the slot may replay it after a crash)
        skipping = b.finalLsn() < shippedLsn;
        xid = Long.toString(fullXid(b.xid()));
        transactionChanges = 0;
      } else if (m instanceof PgOutput.Commit c) {
        inTransaction = false;
        if (!skipping && transactionChanges > 0) {
          batchTransactions++;
          batchEnd = c.endLsn();
        }
        skipping = false;
        ended = endSeen;
      } else if (m instanceof PgOutput.RelationMessage r) {
        changes.relation(r);
      } else if (m instanceof PgOutput.LogicalMessage lm
          && WalChanges.DDL_PREFIX.equals(lm.prefix())) {
        if (lm.transactional() && !skipping) {
          refreshes.forget(); // the table may have another shape now
          assembler().add(xid, WalChanges.ddl(lm), lm.content().length());
          transactionChanges++;
          batchChanges++;
        }
      } else if (m instanceof PgOutput.LogicalMessage lm
          && WalChanges.REFRESH_PREFIX.equals(lm.prefix())) {
        if (lm.transactional() && !skipping) {
          Change refresh = refreshes.toChange(WalChanges.refreshRow(lm, xid));
          assembler().add(xid, refresh, lm.content().length());
          transactionChanges++;
          batchChanges++;
        }
      } else if (m instanceof PgOutput.LogicalMessage lm) {
        if (WalCaptureStore.MESSAGE_PREFIX.equals(lm.prefix())) {
          if (lm.transactional() && WalCaptureStore.END.equals(lm.content()) && !skipping) {
            endSeen = true;
          } else {
            mark = Math.max(mark, lm.lsn());
          }
        }
      } else if (!(m instanceof PgOutput.Ignored) && !skipping) {
        MessageAssembler into = assembler();
        changes.changes(
            m,
            (change, bytes) -> {
              into.add(xid, change, bytes);
              transactionChanges++;
              batchChanges++;
            });
      }
    }

    private MessageAssembler assembler() {
      if (assembler == null) {
        assembler =
            new MessageAssembler(
                source,
                nextPosition,
                settings.messageChanges(),
                settings.messageBytes(),
                sender::send);
      }
      return assembler;
    }

    /**
     * Ships the batch: publishes what is left, waits for the broker's confirms, records it on the
     * primary, then lets the slot go past it. True when a message came back unrouted (nothing
     * recorded; the slot will give the batch again).
     */
    private boolean flush() throws Exception {
      long last = assembler.finish();
      assembler = null;
      if (last >= nextPosition) {
        long waitFrom = System.nanoTime();
        if (!publication.awaitConfirmed(sender.lastSequence(), CONFIRM_TIMEOUT)) {
          throw new TimeoutException(
              "The broker did not confirm published changes within "
                  + CONFIRM_TIMEOUT.toSeconds()
                  + " s");
        }
        stats.metrics.confirmed(System.nanoTime() - waitFrom);
        if (publication.returned()) {
          publication.clearReturned();
          log.warn(
              "No replica queue is bound to exchange '{}' yet; positions {}..{} stay in the slot"
                  + " until a listener has declared its queue",
              settings.exchange(),
              nextPosition,
              last);
          return true;
        }
        stats.shippedTransactions.addAndGet(last - nextPosition + 1);
        stats.shippedChanges.addAndGet(batchChanges);
        stats.metrics.shipped(last - nextPosition + 1, batchChanges);
        log.debug("Shipped positions {}..{} ({} changes)", nextPosition, last, batchChanges);
        nextPosition = last + 1;
        shippedLsn = batchEnd;
        unrecorded = true;
        record(false);
      }
      batchTransactions = 0;
      batchChanges = 0;
      return false;
    }

    /**
     * Records on the primary how far the broker has confirmed, then lets the slot go there: at most
     * every {@link #RECORD_EVERY} unless {@code now}, since each record is a commit the primary's
     * disk waits for. What the broker confirmed but is not recorded yet comes again after a crash,
     * with the same positions, and replicas skip it.
     */
    private void record(boolean now) throws SQLException {
      if (!unrecorded || (!now && System.nanoTime() - recordedAt < RECORD_EVERY.toNanos())) {
        return;
      }
      store.shipped(shippedLsn, nextPosition - 1);
      pg.commit();
      recordedAt = System.nanoTime();
      unrecorded = false;
      confirm(shippedLsn, true);
      readRetained();
    }

    /** Reads the WAL the slot retains for the gauge, now and then. */
    private void readRetained() throws SQLException {
      if (System.nanoTime() - retainedReadAt > RETAINED_READ_EVERY.toNanos()) {
        retainedReadAt = System.nanoTime();
        store.slot(capture.slot()).ifPresent(s -> retainedBytes = s.retainedBytes());
        pg.commit();
      }
    }

    /**
     * With nothing in flight, lets the slot move on past WAL that held nothing to ship (other
     * tables, other databases), so the server can recycle it; answers a mark at once.
     */
    private void settleIdle() throws SQLException {
      record(true);
      readRetained();
      long received = stream.getLastReceiveLSN().asLong();
      long flushed = stream.getLastFlushedLSN().asLong();
      if (received > flushed) {
        confirm(received, mark > flushed);
      }
    }

    private void confirm(long lsn, boolean now) throws SQLException {
      LogSequenceNumber at = LogSequenceNumber.valueOf(lsn);
      if (at.asLong() > stream.getLastFlushedLSN().asLong()) {
        stream.setFlushedLSN(at);
        stream.setAppliedLSN(at);
      }
      if (now) {
        stream.forceUpdateStatus();
      }
    }
  }

  /** The transaction's 64-bit id, asking the server for the newest id when it must. */
  private long fullXid(long xid) throws SQLException {
    long full = fullXid(xid, nextFullXid);
    if (full < 0 || full >= nextFullXid) {
      nextFullXid = nextXid();
      full = fullXid(xid, nextFullXid);
    }
    return full;
  }

  /**
   * The 64-bit id (what {@code pg_current_xact_id()} gives and snapshots list) of a 32-bit one
   * given out before {@code next}, the server's next 64-bit id: in next's epoch, or the one before
   * when the 32-bit id is at or above next's (it was given out before the wrap).
   */
  static long fullXid(long xid, long next) {
    long candidate = (next & ~0xffffffffL) | xid;
    return candidate >= next ? candidate - (1L << 32) : candidate;
  }

  private long nextXid() throws SQLException {
    try (Statement st = pg.createStatement();
        ResultSet rs =
            st.executeQuery("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8")) {
      rs.next();
      long next = rs.getLong(1);
      pg.commit();
      return next;
    }
  }

  /**
   * The slot, checked: missing or invalidated is a setting to fix (exit 2) with the fix named; a
   * server process still reading it for a publisher that died is ended (this one holds the
   * publisher lock, so no live publisher reads it).
   */
  private Slot usableSlot() throws SQLException, InterruptedException {
    Optional<Slot> found = store.slot(capture.slot());
    if (found.isEmpty()) {
      throw new ConfigException(
          "The replication slot "
              + capture.slot()
              + " of "
              + primary
              + " is missing (dropped by hand?): changes since it went are not captured; run"
              + " 'replicador install --capture wal' again, then 'replicador snapshot' for each"
              + " replica");
    }
    Slot slot = found.get();
    if (slot.lost()) {
      throw new ConfigException(
          "The server invalidated replication slot "
              + slot.name()
              + " of "
              + primary
              + " (it removed WAL the slot still needed, see max_slot_wal_keep_size): changes"
              + " were lost to it; run 'replicador uninstall' and 'replicador install --capture"
              + " wal' for the tables, then 'replicador snapshot' for each replica");
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (slot.activePid() != null) {
      log.info(
          "Slot {} is still read by server process {} (a publisher that went away); ending it",
          slot.name(),
          slot.activePid());
      try (java.sql.PreparedStatement ps = pg.prepareStatement("SELECT pg_terminate_backend(?)")) {
        ps.setInt(1, slot.activePid());
        ps.execute();
      }
      pg.commit();
      if (System.nanoTime() > deadline) {
        throw new SQLException(
            "Slot " + slot.name() + " is still in use by server process " + slot.activePid(),
            "55006");
      }
      if (!pauser.pause(Duration.ofMillis(100))) {
        throw new InterruptedException("stopping");
      }
      slot = store.slot(capture.slot()).orElse(slot);
      pg.commit();
    }
    return slot;
  }
}
