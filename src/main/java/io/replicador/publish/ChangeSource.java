package io.replicador.publish;

/**
 * Where the publisher's changes come from: a source reads committed transactions, gives them
 * gap-free positions, publishes them, and settles them once the broker confirmed. The trigger
 * changelog ({@link TriggerSource}) is one, a logical replication slot ({@link WalSource}) the
 * other. A source runs on the publisher's thread while the publisher is the active one.
 */
interface ChangeSource {
  /** Ships changes until the publisher stops (or fails: it is then started anew). */
  void ship() throws Exception;
}
