package io.replicador.status;

/**
 * One replica's side. Nullable fields are null when unknown (queue missing, replica not given or
 * unreachable).
 *
 * @param messages messages waiting in the replica's queue
 * @param consumers listeners attached to the queue (one active, others standby)
 * @param deadLettered messages in the dead-letter queue
 * @param appliedPosition the last position applied from this primary's source
 * @param behind positions handed out by the publisher but not yet applied
 * @param appliedAgeSeconds seconds since the replica last applied a transaction
 * @param lagSeconds 0 when caught up (nothing behind, nothing waiting), else the applied age
 * @param problem why something could not be read, or null
 * @param halted why the replica's listener stopped applying (it waits until someone acts), or null
 * @param stream the stream the replica reads ({@code --queue-type stream}), or null when it has a
 *     queue of its own
 * @param streamBehind messages of {@code stream} after the last one the replica processed, up to
 *     the stream's end; null when unknown
 */
public record ReplicaStatus(
    String name,
    String queue,
    Long messages,
    Integer consumers,
    Long deadLettered,
    Long appliedPosition,
    Long behind,
    Double appliedAgeSeconds,
    Double lagSeconds,
    String problem,
    String halted,
    String stream,
    Long streamBehind) {

  /** A replica with a queue of its own. */
  public ReplicaStatus(
      String name,
      String queue,
      Long messages,
      Integer consumers,
      Long deadLettered,
      Long appliedPosition,
      Long behind,
      Double appliedAgeSeconds,
      Double lagSeconds,
      String problem,
      String halted) {
    this(
        name,
        queue,
        messages,
        consumers,
        deadLettered,
        appliedPosition,
        behind,
        appliedAgeSeconds,
        lagSeconds,
        problem,
        halted,
        null,
        null);
  }
}
