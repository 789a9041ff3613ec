package io.replicador.cli;

import io.replicador.broker.QueueType;
import io.replicador.broker.StreamRetention;
import io.replicador.config.ConfigException;
import picocli.CommandLine.Option;

/**
 * The stream's retention settings, which {@code publish} declares the stream with and which {@code
 * listen} and {@code snapshot} use when they find no stream yet: they must agree, or RabbitMQ
 * refuses the second declaration, so they are declared once.
 */
final class StreamOptions {
  @Option(
      names = "--stream-max-age",
      paramLabel = "AGE",
      description =
          "--queue-type stream: drop changes older than AGE, a number and a unit Y, M, D, h, m or"
              + " s (e.g. 7D); whole segments are dropped (default: no age limit).")
  String maxAge;

  @Option(
      names = "--stream-max-bytes",
      paramLabel = "BYTES",
      description =
          "--queue-type stream: keep at most about BYTES of changes, e.g. 20GB; the oldest"
              + " segments are dropped (default: no size limit).")
  String maxBytes;

  @Option(
      names = "--stream-segment-bytes",
      paramLabel = "BYTES",
      description =
          "--queue-type stream: size of the stream's segment files, the unit retention drops,"
              + " e.g. 500MB (default: RabbitMQ's, 500 MB).")
  String segmentBytes;

  /**
   * The parsed settings; names the flag when one is malformed, or when one is given for a queue
   * type that has no stream (where it would be ignored, and the user believe it in force).
   */
  StreamRetention retention(QueueType type) {
    StreamRetention retention = StreamRetention.parse(maxAge, maxBytes, segmentBytes);
    if (!type.isStream()) {
      String given =
          maxAge != null
              ? "--stream-max-age"
              : maxBytes != null
                  ? "--stream-max-bytes"
                  : segmentBytes != null ? "--stream-segment-bytes" : null;
      if (given != null) {
        throw new ConfigException(
            given
                + " applies only to --queue-type stream; add --queue-type stream or leave "
                + given
                + " out");
      }
    }
    return retention;
  }
}
