package io.replicador.it;

/**
 * {@link SnapshotIT} with capture from a logical replication slot ({@code install --capture wal}).
 */
class WalSnapshotIT extends SnapshotIT {
  @Override
  String capture() {
    return "wal";
  }

  // Not tests here: they do not depend on the source.
  @Override
  void theListenCommandSnapshotPrintsRunsAsPrinted() throws Exception {}

  @Override
  void incompatibleExistingTableIsAClearErrorBeforeAnyDataMoves() {}

  @Override
  void aTableTheSnapshotCreatesGetsThePrimarysIndexesConstraintsDefaultsAndSequences() {}
}
