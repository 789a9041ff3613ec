/**
 * Each database's {@code replicador} schema has one owner here: {@code PrimaryStore} (with the
 * changelog's {@code ChangeLogReader}, {@code ChangeLogWriter}, {@code LargeRowReader} and the
 * publisher fence) on the primary, {@code ReplicaStore} on a replica. Their DDL is in numbered
 * migrations ({@code store/primary}, {@code store/replica}) whose version is recorded and checked.
 * No other package reads or writes those tables. Depends on change and config.
 */
package io.replicador.store;
