/**
 * {@code replicador status}: the primary's backlog and publisher, and per replica its queue,
 * applied position and lag. May depend on store, broker, change and config.
 */
package io.replicador.status;
