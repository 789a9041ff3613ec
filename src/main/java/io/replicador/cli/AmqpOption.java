package io.replicador.cli;

import io.replicador.broker.BrokerAddress;
import io.replicador.broker.BrokerTls;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --amqp} and its TLS options, which every command that talks to the broker has. */
final class AmqpOption {
  @Option(
      names = "--amqp",
      paramLabel = "URI[,URI...]",
      description =
          "RabbitMQ, e.g. amqp://guest@localhost:5672/ (amqps:// for TLS); the nodes of a"
              + " cluster comma-separated.")
  String uri;

  @Option(
      names = "--amqp-ca",
      paramLabel = "FILE",
      description =
          "amqps: trust the CA certificates in this PEM file instead of the system's trust store.")
  Path caFile;

  @Option(
      names = "--amqp-cert",
      paramLabel = "FILE",
      description = "amqps: client certificate (PEM), for brokers that require one.")
  Path certFile;

  @Option(
      names = "--amqp-key",
      paramLabel = "FILE",
      description = "amqps: the client certificate's private key (PEM, unencrypted PKCS#8).")
  Path keyFile;

  @Option(
      names = "--amqp-insecure",
      description =
          "amqps: do not verify the broker's certificate and host name (logs a warning; not for"
              + " production).")
  boolean insecure;

  /** The parsed address; names the option when it is missing or malformed. */
  BrokerAddress address() {
    return BrokerAddress.parse(uri).withTls(new BrokerTls(caFile, certFile, keyFile, insecure));
  }
}
