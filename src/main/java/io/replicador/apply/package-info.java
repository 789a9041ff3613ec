/**
 * The listener: consumes a replica's change messages ({@code broker}) and applies each source
 * transaction atomically to the replica, recording its position in the same replica transaction
 * ({@code store}) and acknowledging after commit. {@code ReplicaListener} owns the session and
 * acknowledgements, {@code ReplicaApplier} the replica transactions, positions and large
 * transactions, {@code ChangeWriter} the statements. May depend on broker, store, codec, schema,
 * metrics, change and config.
 */
package io.replicador.apply;
