package io.replicador.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;

/**
 * A RabbitMQ cluster of a test's own: {@code size} {@link RabbitNode}s on 127.0.0.1, each with its
 * own name, ports and files, sharing one Erlang cookie, the second and later ones joined to the
 * first. Nodes can be killed and restarted; {@link #close} stops them all and deletes their files.
 */
public final class RabbitCluster implements AutoCloseable {
  private final List<RabbitNode> nodes;

  private RabbitCluster(List<RabbitNode> nodes) {
    this.nodes = nodes;
  }

  /** Starts the nodes (at once), clusters them and waits until every one runs in the cluster. */
  public static RabbitCluster start(String name, int size) {
    RabbitNode.Options options =
        RabbitNode.Options.plain().withCookie(UUID.randomUUID().toString().replace("-", ""));
    List<CompletableFuture<RabbitNode>> starting = new ArrayList<>();
    for (int i = 1; i <= size; i++) {
      String nodeName = name + i;
      starting.add(CompletableFuture.supplyAsync(() -> RabbitNode.start(nodeName, options)));
    }
    List<RabbitNode> nodes = new ArrayList<>();
    RuntimeException failure = null;
    for (CompletableFuture<RabbitNode> f : starting) {
      try {
        nodes.add(f.join());
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
    }
    RabbitCluster cluster = new RabbitCluster(List.copyOf(nodes));
    if (failure != null) {
      cluster.close();
      throw failure;
    }
    try {
      RabbitNode first = nodes.get(0);
      for (RabbitNode n : nodes.subList(1, nodes.size())) {
        n.ctl("stop_app");
        n.ctl("join_cluster", first.nodeName());
        n.ctl("start_app");
      }
      cluster.awaitAllRunning();
      return cluster;
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  public List<RabbitNode> nodes() {
    return nodes;
  }

  /** Every node's AMQP URI, comma-separated, as {@code --amqp} takes them. */
  public String amqpUris() {
    return nodes.stream().map(RabbitNode::amqpUri).collect(Collectors.joining(","));
  }

  /** The node whose AMQP listener is on {@code port}. */
  public RabbitNode nodeOnPort(int port) {
    return nodes.stream()
        .filter(n -> n.amqpPort() == port)
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no node listens on " + port));
  }

  public RabbitNode node(String nodeName) {
    return nodes.stream()
        .filter(n -> n.nodeName().equals(nodeName))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no node " + nodeName));
  }

  /** Runs rabbitmqctl against a node that is alive. */
  public String ctl(String... args) {
    return nodes.stream()
        .filter(RabbitNode::isAlive)
        .findFirst()
        .orElseThrow(() -> new IllegalStateException("every node is down"))
        .ctl(args);
  }

  /** Restarts the nodes that were killed and waits until all of them run in the cluster. */
  public void restartKilled() {
    for (RabbitNode n : nodes) {
      if (!n.isAlive()) {
        n.restart();
      }
    }
    awaitAllRunning();
  }

  private void awaitAllRunning() {
    Awaitility.await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptions()
        .until(
            () -> {
              String status = ctl("cluster_status", "--formatter", "json");
              return nodes.stream().allMatch(n -> runningNodes(status).contains(n.nodeName()));
            });
  }

  /** The "running_nodes" list of cluster_status's JSON, as text. */
  private static String runningNodes(String json) {
    int at = json.indexOf("\"running_nodes\"");
    return at < 0 ? "" : json.substring(at, json.indexOf(']', at) + 1);
  }

  @Override
  public void close() {
    nodes.parallelStream().forEach(RabbitNode::close);
  }
}
