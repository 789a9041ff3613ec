/**
 * The domain: row changes, source transactions, messages, relations, table names, identifier
 * quoting and the primary snapshots a copy was taken in. No I/O; depends on nothing else here.
 */
package io.replicador.change;
