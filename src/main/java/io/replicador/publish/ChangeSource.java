package io.replicador.publish;

/**
 * Where the publisher's changes come from: a source hands them, as claimed batches with gap-free
 * positions, to the shipper, which publishes them, and settles them once the broker confirmed. The
 * trigger changelog ({@link TriggerSource}) is one; a logical replication slot would be another. A
 * source runs on the publisher's thread while the publisher is the active one.
 */
interface ChangeSource {
  /** Ships changes until the publisher stops (or fails: it is then started anew). */
  void ship(BatchShipper shipper) throws Exception;
}
