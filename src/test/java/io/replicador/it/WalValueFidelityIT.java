package io.replicador.it;

/**
 * {@link ValueFidelityIT} with capture from a logical replication slot ({@code install --capture
 * wal}).
 */
class WalValueFidelityIT extends ValueFidelityIT {
  @Override
  String capture() {
    return "wal";
  }
}
