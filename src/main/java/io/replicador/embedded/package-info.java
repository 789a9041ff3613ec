/**
 * What the demo and the tests start when no server is installed: local PostgreSQL clusters (from
 * installed or bundled binaries) and an embedded AMQP 0-9-1 broker. Depends on change only.
 */
package io.replicador.embedded;
