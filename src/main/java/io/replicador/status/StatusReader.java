package io.replicador.status;

import io.replicador.Failures;
import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueInspector;
import io.replicador.broker.StreamTopology;
import io.replicador.broker.Topology;
import io.replicador.config.PostgresAddress;
import io.replicador.store.PrimaryStore;
import io.replicador.store.ReplicaStore;
import io.replicador.store.WalCaptureStore;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeoutException;

/**
 * Reads the status once. The backlog's age costs nothing extra on the write path: it is counted in
 * transactions (the server's next transaction id minus the oldest waiting one), and in seconds only
 * where the server already keeps commit timestamps ({@code track_commit_timestamp}); a timestamp
 * column in the changelog would add bytes to every captured change. Opens and closes its own
 * connections; a replica that cannot be read is reported, not fatal.
 */
public final class StatusReader {
  private final PostgresAddress primary;
  private final BrokerAddress broker;
  private final String exchange;
  private final Map<String, PostgresAddress> replicas;

  /**
   * @param exchange whose replicas to list besides the named ones
   * @param replicas replica name to its database, or to null to look at the queue only
   */
  public StatusReader(
      PostgresAddress primary,
      BrokerAddress broker,
      String exchange,
      Map<String, PostgresAddress> replicas) {
    this.primary = primary;
    this.broker = broker;
    this.exchange = exchange;
    this.replicas = new LinkedHashMap<>(replicas);
  }

  /** How long status waits for the stream's last chunk when it looks for the stream's end. */
  private static final Duration STREAM_END_WAIT = Duration.ofSeconds(2);

  /**
   * The exchange's stream ({@code --queue-type stream}): its name, whether it exists, and the
   * offset of its last message (empty when it holds none or did not say in time).
   */
  record StreamState(String name, boolean exists, OptionalLong end) {}

  private StreamState streamState(QueueInspector queues) throws IOException, TimeoutException {
    String name = StreamTopology.streamName(exchange);
    if (queues.inspect(name).isEmpty()) {
      return new StreamState(name, false, OptionalLong.empty());
    }
    try {
      return new StreamState(name, true, queues.streamEnd(name, STREAM_END_WAIT));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new StreamState(name, true, OptionalLong.empty());
    }
  }

  public Status read() throws SQLException, IOException, TimeoutException {
    PrimaryStatus p;
    try (Connection c = primary.connect("replicador-status")) {
      p = primaryStatus(c);
    }
    List<ReplicaStatus> out = new ArrayList<>();
    try (QueueInspector queues = new QueueInspector(broker, "replicador-status")) {
      // every replica the exchange feeds, also those nobody named (a forgotten or mistyped one)
      Map<String, PostgresAddress> all = new LinkedHashMap<>(replicas);
      for (String name : queues.replicaNames(exchange)) {
        all.putIfAbsent(name, null);
      }
      StreamState stream = streamState(queues);
      for (Map.Entry<String, PostgresAddress> e : all.entrySet()) {
        out.add(replicaStatus(e.getKey(), e.getValue(), queues, p, stream));
      }
    }
    return new Status(p, out);
  }

  private PrimaryStatus primaryStatus(Connection c) throws SQLException {
    PrimaryStore store = new PrimaryStore(c, primary.toString());
    store.requireInstalled();
    PrimaryStore.Backlog backlog = store.backlog();
    PrimaryStore.PublisherState publisher = store.publisherState();
    PrimaryStatus.PublisherSession session =
        store
            .publisherSession()
            .map(
                h ->
                    new PrimaryStatus.PublisherSession(
                        h.pid(), h.application(), h.clientAddress(), h.since()))
            .orElse(null);
    return new PrimaryStatus(
        primary.toString(),
        backlog.source(),
        backlog.changes(),
        backlog.transactions(),
        backlog.ageTransactions(),
        backlog.ageSeconds(),
        publisher.lastPosition(),
        publisher.pendingFrom(),
        session,
        publisher.activeBy(),
        publisher.activeSince(),
        store.standbySessions().stream()
            .map(
                h ->
                    new PrimaryStatus.PublisherSession(
                        h.pid(), h.application(), h.clientAddress(), h.since()))
            .toList(),
        slotStatus(c));
  }

  /** Retained WAL past which status warns: a slot nobody reads fills the primary's disk. */
  static final long RETAINED_WARNING_BYTES = 1L << 30;

  private PrimaryStatus.SlotStatus slotStatus(Connection c) throws SQLException {
    WalCaptureStore wal = new WalCaptureStore(c);
    Optional<WalCaptureStore.WalCapture> capture = wal.find();
    if (capture.isEmpty()) {
      return null;
    }
    Optional<WalCaptureStore.Slot> slot = wal.slot(capture.get().slot());
    Double shippedAgo = wal.shippedSecondsAgo();
    if (slot.isEmpty()) {
      return new PrimaryStatus.SlotStatus(
          capture.get().slot(),
          "missing",
          0,
          0,
          shippedAgo,
          false,
          "the slot is gone (dropped by hand?): changes since are not captured; install"
              + " --capture wal again and snapshot the replicas");
    }
    WalCaptureStore.Slot s = slot.get();
    String warning = null;
    if (s.lost()) {
      warning =
          "the server invalidated the slot (max_slot_wal_keep_size): changes were lost to it;"
              + " uninstall, install --capture wal again and snapshot the replicas";
    } else if ("unreserved".equals(s.walStatus())) {
      warning =
          "the slot is about to lose WAL it needs (max_slot_wal_keep_size): start the publisher";
    } else if (s.retainedBytes() > RETAINED_WARNING_BYTES) {
      warning =
          "the slot holds "
              + (s.retainedBytes() >> 20)
              + " MiB of WAL on the primary"
              + (s.activePid() == null
                  ? "; no publisher reads it: start 'replicador publish'"
                  : "; the publisher is behind")
              + " (bound it with max_slot_wal_keep_size, see the README)";
    }
    return new PrimaryStatus.SlotStatus(
        s.name(),
        s.walStatus(),
        s.retainedBytes(),
        s.unconfirmedBytes(),
        shippedAgo,
        s.activePid() != null,
        warning);
  }

  private ReplicaStatus replicaStatus(
      String name,
      PostgresAddress address,
      QueueInspector queues,
      PrimaryStatus p,
      StreamState stream) {
    String queue = Topology.queueName(name);
    List<String> problems = new ArrayList<>();
    Long messages = null;
    Integer consumers = null;
    Long dead = null;
    ReplicaRead read = address == null ? null : readReplica(address, name, p.source());
    Map<String, Long> streamOffsets =
        read == null || !stream.exists() ? Map.of() : read.streamOffsets();
    // a replica reads the stream when it keeps a place in it, or has no queue beside it
    boolean readsStream = false;
    try {
      Optional<QueueInspector.QueueCounts> q = queues.inspect(queue);
      readsStream = stream.exists() && (streamOffsets.containsKey(stream.name()) || q.isEmpty());
      if (q.isPresent() && readsStream) {
        problems.add(
            "the replica reads stream "
                + stream.name()
                + " but its old queue "
                + queue
                + " is still bound to the exchange and fills up with "
                + q.get().messages()
                + " message(s) so far; delete it (rabbitmqctl delete_queue '"
                + queue
                + "')");
      } else if (q.isPresent()) {
        messages = q.get().messages();
        consumers = q.get().consumers();
        if (consumers == 0 && messages > 0) {
          problems.add(
              "no listener consumes this queue and "
                  + messages
                  + " message(s) wait in it: a"
                  + " stopped listener, or a name no longer in use (remove it with 'replicador"
                  + " remove-replica --name "
                  + name
                  + "')");
        }
      } else if (!readsStream) {
        problems.add("queue " + queue + " does not exist (run snapshot or listen to create it)");
      }
      Optional<QueueInspector.QueueCounts> d = queues.inspect(Topology.deadLetterQueueName(name));
      dead = d.map(QueueInspector.QueueCounts::messages).orElse(null);
    } catch (IOException | TimeoutException e) {
      problems.add("cannot read queue " + queue + ": " + Failures.describe(e));
    }
    Long streamBehind = null;
    if (readsStream) {
      Long saved = streamOffsets.get(stream.name());
      if (address == null) {
        problems.add(
            "reads stream "
                + stream.name()
                + " (its place in it is kept on the replica: give --replica "
                + name
                + "=URL to see how far behind it is)");
      } else if (stream.end().isPresent()) {
        streamBehind = Math.max(0, stream.end().getAsLong() - (saved == null ? -1 : saved));
      } else if (saved == null) {
        streamBehind = 0L; // an empty stream, and the replica has read nothing
      }
    }
    Long position = null;
    Long behind = null;
    Double age = null;
    Double lag = null;
    String halted = null;
    if (read != null) {
      halted = read.halted();
      if (read.error() != null) {
        problems.add("cannot read the replica: " + read.error());
      } else if (read.applied().isPresent()) {
        position = read.applied().get().position();
        age = read.applied().get().ageSeconds();
        behind = Math.max(0, p.lastPosition() - position);
        boolean caughtUp =
            behind == 0
                && (messages == null || messages == 0)
                && (streamBehind == null || streamBehind == 0)
                && halted == null;
        lag = caughtUp ? 0.0 : age;
        if (position > p.lastPosition()) {
          // nothing the primary handed out reaches there: the replica applied a forged or
          // foreign message, or the primary's changelog was reinstalled
          problems.add(
              "applied position "
                  + position
                  + " is beyond the primary's last position "
                  + p.lastPosition()
                  + "; the replica took changes the primary never shipped (run verify, then"
                  + " snapshot)");
        }
      } else if (!read.bookkept()) {
        problems.add("the replica has no replicador.applied table (no listener ran there yet)");
      } else {
        problems.add("the replica has applied nothing from this primary yet");
      }
    }
    return new ReplicaStatus(
        name,
        readsStream ? stream.name() : queue,
        messages,
        consumers,
        dead,
        position,
        behind,
        age,
        lag,
        problems.isEmpty() ? null : String.join("; ", problems),
        halted,
        readsStream ? stream.name() : null,
        streamBehind);
  }

  /** What status reads in a replica, in one connection; {@code error} when it could not. */
  private record ReplicaRead(
      Optional<ReplicaStore.Applied> applied,
      String halted,
      boolean bookkept,
      Map<String, Long> streamOffsets,
      String error) {}

  private static ReplicaRead readReplica(PostgresAddress address, String name, String source) {
    try (Connection c = address.connect("replicador-status")) {
      ReplicaStore store = new ReplicaStore(c, name);
      Optional<ReplicaStore.Applied> applied = store.applied(source);
      String halted = store.halted().orElse(null);
      boolean bookkept = applied.isPresent() || store.bookkept();
      return new ReplicaRead(applied, halted, bookkept, store.streamOffsets(), null);
    } catch (SQLException e) {
      return new ReplicaRead(Optional.empty(), null, true, Map.of(), Failures.describe(e));
    }
  }
}
