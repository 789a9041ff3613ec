package io.replicador.it;

/** {@link CrashIT} with capture from a logical replication slot ({@code install --capture wal}). */
class WalCrashIT extends CrashIT {
  @Override
  String capture() {
    return "wal";
  }

  // Not a test here: the listener is the same whatever the source.
  @Override
  void killingTheListenerMidStreamLosesAndDoublesNothing() throws Exception {}
}
