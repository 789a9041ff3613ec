package io.replicador.demo;

import io.replicador.metrics.MetricsAddress;
import java.time.Duration;

/**
 * How the demo runs.
 *
 * @param writeFor how long the writer changes rows on the primary
 * @param transactionsPerSecond the writer's pace
 * @param keepRunning leave everything up after the check, until the process is stopped
 * @param amqp a broker to use (AMQP URI), or null to use the local RabbitMQ or an embedded broker
 * @param embeddedBroker use the embedded broker even when a RabbitMQ answers
 * @param live redraw one status line (a terminal) instead of printing plain lines
 * @param walCapture capture from a logical replication slot instead of triggers
 * @param metrics where to serve the publisher's and listeners' meters and health
 */
public record DemoSettings(
    Duration writeFor,
    int transactionsPerSecond,
    boolean keepRunning,
    String amqp,
    boolean embeddedBroker,
    boolean live,
    boolean walCapture,
    MetricsAddress metrics) {}
