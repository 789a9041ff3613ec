package io.replicador.publish;

import io.replicador.broker.BrokerAddress;
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
    MessageSignature signing) {

  public PublisherSettings {
    notifyChannels = List.copyOf(notifyChannels);
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
        signing);
  }

  public static PublisherSettings defaults(
      PostgresAddress primary, BrokerAddress broker, String exchange) {
    return new PublisherSettings(
        primary, broker, exchange, 20_000, 1_000, 1L << 20, Duration.ofSeconds(1), List.of());
  }
}
