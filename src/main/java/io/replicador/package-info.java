/**
 * Replicador: replicates PostgreSQL tables to other PostgreSQL databases through RabbitMQ.
 *
 * <p>Layers, each depending only on those below it: {@code cli} and {@code demo} on top; the stages
 * {@code capture}, {@code publish}, {@code apply}, {@code snapshot}, {@code verify} and {@code
 * status}, which never import each other; then {@code store} (each database's {@code replicador}
 * schema), {@code broker} (the only package that imports the AMQP client), {@code codec}, {@code
 * schema} and {@code metrics} (meters, health and the JSON log layout, which the stages feed
 * through hooks); at the bottom {@code change} and {@code config}. This package holds {@link
 * io.replicador.Failures}, the one place that turns failures into one-line reasons.
 */
package io.replicador;
