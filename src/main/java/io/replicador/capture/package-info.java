/**
 * Installs and removes change capture on the primary: checks the tables, then has the primary store
 * migrate its schema and install each table's triggers. May depend on store, schema, change and
 * config.
 */
package io.replicador.capture;
