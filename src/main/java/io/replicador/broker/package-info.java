/**
 * RabbitMQ, and the only package that imports its client: addresses, topology (exchange, replica
 * queues, dead-letter queues), the transport's publishing side ({@code ChangePublication}) and
 * consuming side ({@code ChangeSubscription}), and queue inspection for status and snapshot. A
 * second transport is a second implementation of those two interfaces. Depends on config only.
 */
package io.replicador.broker;
