package io.replicador.cli;

import io.replicador.broker.QueueType;
import io.replicador.config.ConfigException;
import java.util.Locale;
import java.util.regex.Pattern;

/** Validation shared by the commands that name a replica and its queue. */
final class ReplicaNames {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,100}");

  private ReplicaNames() {}

  static String checkName(String option, String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new ConfigException(
          option
              + " is "
              + (name == null ? "missing" : "'" + name + "'")
              + "; give the replica a name of letters, digits, '.', '_' or '-'");
    }
    return name;
  }

  static QueueType queueType(String text) {
    try {
      return QueueType.valueOf(text.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException("--queue-type is '" + text + "'; use quorum, classic or stream");
    }
  }
}
