package io.replicador.it;

/**
 * {@link SchemaShapesIT} with capture from a logical replication slot ({@code install --capture
 * wal}).
 */
class WalSchemaShapesIT extends SchemaShapesIT {
  @Override
  String capture() {
    return "wal";
  }
}
