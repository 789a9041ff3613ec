package io.replicador.metrics;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.replicador.config.ConfigException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a process's meters and health over HTTP: {@code /metrics} (Prometheus text format), {@code
 * /health/live} (200 while the process runs) and {@code /health/ready} (200 when {@link Readiness}
 * has no problem, else 503 with a JSON body naming each). Owns the registry, with the JVM and
 * process meters bound, and two named daemon threads that answer requests; {@link #close} stops
 * them. Thread-safe.
 */
public final class MetricsServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);
  private static final String NODELAY = "sun.net.httpserver.nodelay";
  private static final String TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8";

  private final PrometheusMeterRegistry registry;
  private final Readiness readiness;
  private final HttpServer server;
  private final ExecutorService threads;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  private MetricsServer(
      PrometheusMeterRegistry registry,
      Readiness readiness,
      HttpServer server,
      ExecutorService threads) {
    this.registry = registry;
    this.readiness = readiness;
    this.server = server;
    this.threads = threads;
  }

  /**
   * Binds {@code address} and starts serving.
   *
   * @param command the command, e.g. "publish", tagged on every meter as {@code command}
   * @throws ConfigException when the address cannot be bound (in use, not a local address)
   */
  public static MetricsServer start(
      MetricsAddress address, String command, List<Tag> commonTags, Readiness readiness) {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    registry.config().commonTags(List.of(Tag.of("command", command))).commonTags(commonTags);
    HttpServer server;
    InetSocketAddress socket = address.socketAddress();
    if (socket.isUnresolved()) {
      throw new ConfigException(
          "--metrics "
              + address
              + ": host "
              + address.host()
              + " is unknown; name a local address");
    }
    // The JDK's server writes a response's headers and body in two packets: without TCP_NODELAY a
    // client's delayed ACK holds the body back on every kept-alive scrape (docs/performance.md).
    // Read once, when its first server starts; a value given on the command line wins.
    if (System.getProperty(NODELAY) == null) {
      System.setProperty(NODELAY, "true");
    }
    try {
      server = HttpServer.create(socket, 16);
    } catch (BindException e) {
      throw new ConfigException(
          "--metrics "
              + address
              + " cannot be bound ("
              + e.getMessage()
              + "): the port is in use or the host is not an address of this machine; choose"
              + " another",
          e);
    } catch (IOException e) {
      throw new ConfigException("--metrics " + address + " cannot be bound: " + e.getMessage(), e);
    }
    AtomicInteger n = new AtomicInteger();
    ExecutorService threads =
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "replicador-metrics-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(threads);
    MetricsServer metrics = new MetricsServer(registry, readiness, server, threads);
    metrics.bindProcessMeters();
    server.createContext("/metrics", metrics::scrape);
    server.createContext("/health/live", metrics::live);
    server.createContext("/health/ready", metrics::ready);
    server.start();
    log.info("Serving /metrics, /health/live and /health/ready on http://{}", metrics.address());
    return metrics;
  }

  private void bindProcessMeters() {
    new ClassLoaderMetrics().bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
  }

  /** Where it listens, with the actual port when port 0 was asked for: "127.0.0.1:40123". */
  public String address() {
    InetSocketAddress a = server.getAddress();
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /** The registry the stages' meters go to. */
  public PrometheusMeterRegistry registry() {
    return registry;
  }

  private void scrape(HttpExchange exchange) throws IOException {
    if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
      respond(exchange, 405, "text/plain; charset=utf-8", "GET only\n");
      return;
    }
    respond(exchange, 200, TEXT_FORMAT, registry.scrape());
  }

  private void live(HttpExchange exchange) throws IOException {
    respond(exchange, 200, "application/json", "{\"status\":\"live\"}\n");
  }

  private void ready(HttpExchange exchange) throws IOException {
    Map<String, String> problems = readiness.problems();
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("status", problems.isEmpty() ? "ready" : "not ready");
    if (!problems.isEmpty()) {
      body.put("reasons", problems);
    }
    respond(
        exchange,
        problems.isEmpty() ? 200 : 503,
        "application/json",
        new ObjectMapper().writeValueAsString(body) + "\n");
  }

  private static void respond(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    try (exchange) {
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", type);
      boolean head = exchange.getRequestMethod().equals("HEAD");
      exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
      if (!head) {
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(bytes);
        }
      }
    }
  }

  /** Stops serving at once and releases the port. */
  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
    gc.close();
    registry.close();
  }
}
