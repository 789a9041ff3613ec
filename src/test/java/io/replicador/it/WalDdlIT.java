package io.replicador.it;

/** {@link DdlIT} with capture from the WAL: schema changes travel as logical messages. */
class WalDdlIT extends DdlIT {
  @Override
  String capture() {
    return "wal";
  }
}
