package io.replicador.it;

/**
 * {@link VerifyIT} with capture from a logical replication slot ({@code install --capture wal}).
 */
class WalVerifyIT extends VerifyIT {
  @Override
  String capture() {
    return "wal";
  }

  // Not tests here: they compare tables without a publisher, whatever the source.
  @Override
  void equalTablesExitZero() {}

  @Override
  void namesChangedMissingAndExtraRowsOnSingleAndCompositeKeys() {}

  @Override
  void aTableMissingOnTheReplicaIsADifference() {}

  @Override
  void errorsAreOneLineWithExitTwo() {}
}
