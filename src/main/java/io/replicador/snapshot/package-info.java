/**
 * {@code replicador snapshot}: creates a replica's missing tables from the primary's definitions
 * and copies the data in one consistent snapshot, recording which primary transactions each copy
 * holds. May depend on store, broker, schema, change and config.
 */
package io.replicador.snapshot;
