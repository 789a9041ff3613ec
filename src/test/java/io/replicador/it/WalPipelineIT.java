package io.replicador.it;

/**
 * The pipeline's tests with capture from a logical replication slot ({@code install --capture
 * wal}). The tests of the trigger changelog's own machinery (doorbell, statement groups, its
 * migrations) and of the listener alone are the trigger run's only.
 */
class WalPipelineIT extends PipelineIT {
  @Override
  String capture() {
    return "wal";
  }

  // Not tests here: the trigger changelog's own machinery, or the listener's alone.
  @Override
  void rowsOfOneStatementShipInOrderWhateverPlanTheDatabaseLeansTo() {}

  @Override
  void rowsOfOneInsertStatementTravelInGroupsBoundedByCountAndSize() {}

  // reads the changelog's backlog; WalCaptureIT has the slot's own test of it
  @Override
  void changesMadeWhileNoPublisherRunsArriveWhenItStarts() {}

  @Override
  void partsPublishedTwiceAreAppliedOnce() {}

  @Override
  void anotherSourcesTransactionBetweenTheParts() {}

  @Override
  void aChangelogOfAnEarlierVersionIsRefusedUntilInstallRunsAgainAndKeepsItsChanges() {}

  @Override
  void aSchemaOfANewerVersionIsRefusedOnEitherSide() {}

  @Override
  void aReplicaBookkeptByAnEarlierVersionIsUpgradedByTheListenerAndKeepsItsPosition() {}

  @Override
  void anArmedDoorbellRingsForEachWritingTransactionAndAnUnarmedOneNever() {}

  @Override
  void aPublisherStartingUnderLoadDisarmsTheDoorbellItFindsArmedAndNoWriterRingsIt() {}

  @Override
  void aTrickleOfChangesIsClaimedWhenTheDoorbellRingsNotByPolling() {}

  @Override
  void aPublisherStoppedWhileIdleLeavesTheDoorbellUnarmed() {}

  @Override
  void installAgainMovesATableFromTheRowTriggersOfEarlierVersions() {}
}
