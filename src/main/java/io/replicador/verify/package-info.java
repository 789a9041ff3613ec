/**
 * {@code replicador verify}: compares primary and replica table by table, by key ranges and hashes,
 * and names the rows that differ; can first wait for the replica to catch up. May depend on store,
 * schema, change and config.
 */
package io.replicador.verify;
