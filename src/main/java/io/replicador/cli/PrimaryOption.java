package io.replicador.cli;

import io.replicador.config.PostgresAddress;
import picocli.CommandLine.Option;

/** {@code --primary}, which every command that reads or writes the primary has. */
final class PrimaryOption {
  @Option(names = "--primary", paramLabel = "URL", description = "The primary database.")
  String url;

  /** The parsed address; names the option when it is missing or malformed. */
  PostgresAddress address() {
    return PostgresAddress.parse("primary", url);
  }
}
