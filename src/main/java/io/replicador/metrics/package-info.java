/**
 * What operators watch: meters in a Micrometer Prometheus registry ({@code PublisherMetrics},
 * {@code ListenerMetrics}, {@code SnapshotMetrics}), the HTTP endpoint that serves them with the
 * health checks ({@code MetricsServer}: {@code /metrics}, {@code /health/live}, {@code
 * /health/ready}), readiness ({@code Readiness}) and the JSON log layout. The stages feed it
 * through small hooks; it imports no stage, no JDBC driver and not the AMQP client. Depends on
 * config only.
 */
package io.replicador.metrics;
