package io.replicador.demo;

import io.replicador.broker.BrokerAddress;
import io.replicador.broker.QueueInspector;
import io.replicador.embedded.EmbeddedBroker;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * The demo's broker: the one given, else the RabbitMQ on localhost:5672 when it answers and lets
 * guest in, else an embedded AMQP broker in this JVM. {@link #close} deletes the demo's exchange
 * and queues on a real broker and stops an embedded one.
 */
final class DemoBroker implements AutoCloseable {
  static final String LOCAL_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/";

  private final BrokerAddress address;
  private final EmbeddedBroker embedded;
  private final String description;
  private String exchange;
  private String[] queues = new String[0];

  private DemoBroker(BrokerAddress address, EmbeddedBroker embedded, String description) {
    this.address = address;
    this.embedded = embedded;
    this.description = description;
  }

  static DemoBroker choose(String given, boolean forceEmbedded) {
    if (given != null) {
      BrokerAddress a = BrokerAddress.parse(given);
      return new DemoBroker(a, null, "the broker at " + a);
    }
    if (!forceEmbedded && answers()) {
      BrokerAddress local = BrokerAddress.parse(LOCAL_RABBITMQ);
      try (QueueInspector c = new QueueInspector(local, "replicador-demo-probe")) {
        return new DemoBroker(local, null, "the RabbitMQ on localhost:5672 (" + c.product() + ")");
      } catch (Exception e) {
        // something answers but does not let guest in: do not touch it
      }
    }
    EmbeddedBroker broker = EmbeddedBroker.start();
    return new DemoBroker(
        BrokerAddress.parse(broker.uri()),
        broker,
        "an embedded AMQP 0-9-1 broker on 127.0.0.1:"
            + broker.port()
            + (forceEmbedded ? "" : " (no RabbitMQ answered on localhost:5672)"));
  }

  private static boolean answers() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", 5672), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  BrokerAddress address() {
    return address;
  }

  boolean isEmbedded() {
    return embedded != null;
  }

  String description() {
    return description;
  }

  /** Remembers the demo's broker objects so that {@link #close} deletes them. */
  void owns(String exchange, String... queues) {
    this.exchange = exchange;
    this.queues = queues.clone();
  }

  @Override
  public void close() {
    if (embedded != null) {
      embedded.close();
      return;
    }
    if (exchange == null) {
      return;
    }
    try (QueueInspector c = new QueueInspector(address, "replicador-demo-cleanup")) {
      c.delete(exchange, queues);
    } catch (Exception e) {
      // best effort: the names are the demo's own and unique
    }
  }
}
