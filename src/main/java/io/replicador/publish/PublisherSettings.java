package io.replicador.publish;

import io.replicador.broker.BrokerAddress;
import io.replicador.broker.StreamRetention;
import io.replicador.codec.MessageSignature;
import io.replicador.config.PostgresAddress;
import java.time.Duration;
import java.util.List;

/**
 * Everything the publisher needs, validated.
 *
 * @param exchange the durable topic exchange the changes go to
 * @param batchRows changes claimed per batch (a larger transaction is claimed alone)
 * @param messageChanges changes per message before a new message (or part) starts
 * @param messageBytes approximate bytes per message before a new message (or part) starts
 * @param idlePoll how often a publisher sleeping on the doorbell looks even without a ring
 * @param notifyChannels channels carrying origin-design JSON payloads (see docs)
 * @param signing signs every message published; null to publish unsigned messages
 * @param stream when not null, the publisher declares the exchange's stream (see {@link
 *     io.replicador.broker.StreamTopology}) with this retention and binds it before it publishes,
 *     so every change is kept there for stream replicas, whether or not any has started yet
 */
public record PublisherSettings(
    PostgresAddress primary,
    BrokerAddress broker,
    String exchange,
    int batchRows,
    int messageChanges,
    long messageBytes,
    Duration idlePoll,
    List<String> notifyChannels,
    MessageSignature signing,
    StreamRetention stream) {

  public PublisherSettings {
    notifyChannels = List.copyOf(notifyChannels);
  }

  /** Settings that publish to the exchange only (replicas have queues of their own). */
  public PublisherSettings(
      PostgresAddress primary,
      BrokerAddress broker,
      String exchange,
      int batchRows,
      int messageChanges,
      long messageBytes,
      Duration idlePoll,
      List<String> notifyChannels,
      MessageSignature signing) {
    this(
        primary,
        broker,
        exchange,
        batchRows,
        messageChanges,
        messageBytes,
        idlePoll,
        notifyChannels,
        signing,
        null);
  }

  /**
   * These settings, with the exchange's stream declared (with {@code retention}) and bound before
   * anything is published; null: no stream.
   */
  public PublisherSettings withStream(StreamRetention retention) {
    return new PublisherSettings(
        primary,
        broker,
        exchange,
        batchRows,
        messageChanges,
        messageBytes,
        idlePoll,
        notifyChannels,
        signing,
        retention);
  }

  /** Settings that publish unsigned messages. */
  public PublisherSettings(
      PostgresAddress primary,
      BrokerAddress broker,
      String exchange,
      int batchRows,
      int messageChanges,
      long messageBytes,
      Duration idlePoll,
      List<String> notifyChannels) {
    this(
        primary,
        broker,
        exchange,
        batchRows,
        messageChanges,
        messageBytes,
        idlePoll,
        notifyChannels,
        null);
  }

  /** These settings, with every message signed by {@code signing} (null: unsigned). */
  public PublisherSettings signedWith(MessageSignature signing) {
    return new PublisherSettings(
        primary,
        broker,
        exchange,
        batchRows,
        messageChanges,
        messageBytes,
        idlePoll,
        notifyChannels,
        signing,
        stream);
  }

  public static PublisherSettings defaults(
      PostgresAddress primary, BrokerAddress broker, String exchange) {
    return new PublisherSettings(
        primary, broker, exchange, 20_000, 1_000, 1L << 20, Duration.ofSeconds(1), List.of());
  }
}
