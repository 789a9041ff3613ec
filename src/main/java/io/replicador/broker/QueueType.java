package io.replicador.broker;

import java.util.Locale;

/**
 * How changes reach a replica: its own queue of a RabbitMQ queue type ({@link #QUORUM}, {@link
 * #CLASSIC}), or {@link #STREAM}, one stream per exchange that every replica reads from its own
 * position (see {@link StreamTopology}).
 */
public enum QueueType {
  QUORUM,
  CLASSIC,
  STREAM;

  public String argument() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Whether the replicas of this type read the exchange's one stream instead of a queue each. */
  public boolean isStream() {
    return this == STREAM;
  }
}
