package io.replicador.broker;

import io.replicador.config.ConfigException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How long the exchange's stream keeps changes: by age ({@code x-max-age}, RabbitMQ's format such
 * as {@code 7D} or {@code 24h}), by size ({@code x-max-length-bytes}) or both, and the size of its
 * segment files ({@code x-stream-max-segment-size-bytes}); retention drops whole segments, oldest
 * first, and never the one being written. Each part is null when not set (the broker's default: no
 * age or size limit). Immutable.
 *
 * @param maxAge e.g. {@code 7D}; null for no age limit
 * @param maxBytes bytes; null for no size limit
 * @param segmentBytes bytes per segment file; null for the broker's default
 */
public record StreamRetention(String maxAge, Long maxBytes, Long segmentBytes) {
  /** RabbitMQ's x-max-age: a number and a unit, Y(ears), M(onths), D(ays), h, m or s. */
  private static final Pattern AGE = Pattern.compile("([1-9][0-9]{0,8})([YMDhms])");

  private static final Pattern BYTES =
      Pattern.compile("([0-9]{1,15})\\s*(|B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)");

  /** RabbitMQ refuses segments larger than 3 GB. */
  static final long MAX_SEGMENT_BYTES = 3_000_000_000L;

  /** No retention set: the stream keeps everything (the broker's default). */
  public static final StreamRetention NONE = new StreamRetention(null, null, null);

  /**
   * Parses the three settings as the command line gives them (null when not given).
   *
   * @throws ConfigException naming the flag and what it takes
   */
  public static StreamRetention parse(String maxAge, String maxBytes, String segmentBytes) {
    return new StreamRetention(
        age(maxAge),
        bytes("--stream-max-bytes", maxBytes, 1, Long.MAX_VALUE),
        bytes("--stream-segment-bytes", segmentBytes, 1, MAX_SEGMENT_BYTES));
  }

  static String age(String text) {
    if (text == null) {
      return null;
    }
    String t = text.strip();
    if (!AGE.matcher(t).matches()) {
      throw new ConfigException(
          "--stream-max-age is '"
              + text
              + "'; give a number and a unit as RabbitMQ takes it, Y, M, D, h, m or s (e.g. 7D"
              + " or 24h)");
    }
    return t;
  }

  static Long bytes(String flag, String text, long min, long max) {
    if (text == null) {
      return null;
    }
    Matcher m = BYTES.matcher(text.strip());
    long value = -1;
    if (m.matches()) {
      long unit =
          switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "KB" -> 1_000L;
            case "MB" -> 1_000_000L;
            case "GB" -> 1_000_000_000L;
            case "TB" -> 1_000_000_000_000L;
            case "KIB" -> 1L << 10;
            case "MIB" -> 1L << 20;
            case "GIB" -> 1L << 30;
            case "TIB" -> 1L << 40;
            default -> 1L;
          };
      long n = Long.parseLong(m.group(1));
      value = n > Long.MAX_VALUE / unit ? -1 : n * unit;
    }
    if (value < min || value > max) {
      throw new ConfigException(
          flag
              + " is '"
              + text
              + "'; give bytes from "
              + min
              + " to "
              + max
              + ", as a number with an optional unit kB, MB, GB, TB, KiB, MiB, GiB or TiB (e.g."
              + " 20GB)");
    }
    return value;
  }

  /** The stream's declare arguments, x-queue-type included. */
  public Map<String, Object> arguments() {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("x-queue-type", "stream");
    if (maxAge != null) {
      args.put("x-max-age", maxAge);
    }
    if (maxBytes != null) {
      args.put("x-max-length-bytes", maxBytes);
    }
    if (segmentBytes != null) {
      args.put("x-stream-max-segment-size-bytes", segmentBytes);
    }
    return args;
  }

  @Override
  public String toString() {
    return "max-age "
        + (maxAge == null ? "none" : maxAge)
        + ", max-bytes "
        + (maxBytes == null ? "none" : maxBytes)
        + ", segment-bytes "
        + (segmentBytes == null ? "default" : segmentBytes);
  }
}
