package io.replicador.it;

/** {@link FaultIT}'s faults of the primary and the broker with capture from the slot. */
class WalFaultIT extends FaultIT {
  @Override
  String capture() {
    return "wal";
  }

  // Not a test here: the replica's side is the same whatever the source.
  @Override
  void replicaCrashAndRestartLosesNothing() {}
}
