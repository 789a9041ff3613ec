package io.replicador.broker;

import java.util.Locale;

/** The RabbitMQ queue type of a replica's queue. */
public enum QueueType {
  QUORUM,
  CLASSIC;

  public String argument() {
    return name().toLowerCase(Locale.ROOT);
  }
}
