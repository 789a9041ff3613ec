package io.replicador.it;

/** {@link RepairIT} with capture from the WAL: the rows travel as logical messages. */
class WalRepairIT extends RepairIT {
  @Override
  String capture() {
    return "wal";
  }
}
