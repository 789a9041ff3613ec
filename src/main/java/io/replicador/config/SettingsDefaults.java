package io.replicador.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Fills options the command line left out: first from the environment ({@code --queue-type} is
 * {@code REPLICADOR_QUEUE_TYPE}), then from the YAML file given with {@code --config} (key {@code
 * queue-type}). Flags win over both. A YAML list becomes a comma-separated value.
 */
public final class SettingsDefaults implements IDefaultValueProvider {
  /** Options that are not settings: neither the environment nor the file can give them. */
  private static final Set<String> NOT_SETTINGS = Set.of("config", "help", "version");

  private final Map<String, String> environment;
  private final JsonNode yaml;
  private final Path configFile;

  public SettingsDefaults(Map<String, String> environment, Path configFile) {
    this.environment = Map.copyOf(environment);
    this.configFile = configFile;
    this.yaml = configFile == null ? null : load(configFile);
  }

  /** Finds {@code --config FILE} (or {@code --config=FILE}, or REPLICADOR_CONFIG) early. */
  public static SettingsDefaults fromArgs(String[] args, Map<String, String> environment) {
    String file = environment.get("REPLICADOR_CONFIG");
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        file = args[i + 1];
      } else if (args[i].startsWith("--config=")) {
        file = args[i].substring("--config=".length());
      }
    }
    return new SettingsDefaults(environment, file == null ? null : Path.of(file));
  }

  private static JsonNode load(Path file) {
    if (!Files.isReadable(file)) {
      throw new ConfigException(
          "Config file " + file + " does not exist or cannot be read; check the --config path");
    }
    try {
      JsonNode node = new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
      // an empty or comments-only file reads as a missing node: no settings, not an error
      if (node != null && !node.isNull() && !node.isMissingNode() && !node.isObject()) {
        throw new ConfigException(
            "Config file " + file + " is not a YAML mapping; write one 'key: value' per line");
      }
      return node;
    } catch (IOException e) {
      throw new ConfigException(
          "Config file "
              + file
              + " is not valid YAML: "
              + e.getMessage().lines().findFirst().orElse(""),
          e);
    }
  }

  /**
   * Refuses a config file with a key that is not a setting, naming each such key and the nearest
   * known one, so that a misspelt key is not silently ignored.
   *
   * @param known the keys that may appear: long option names without their dashes
   */
  public void checkKeys(Collection<String> known) {
    if (yaml == null || !yaml.isObject()) {
      return;
    }
    List<String> settings = known.stream().filter(k -> !NOT_SETTINGS.contains(k)).toList();
    List<String> unknown = new ArrayList<>();
    yaml.fieldNames()
        .forEachRemaining(
            key -> {
              if (NOT_SETTINGS.contains(key)) {
                unknown.add("'" + key + "' (only the command line takes it)");
              } else if (!settings.contains(key)) {
                unknown.add(
                    "'"
                        + key
                        + "'"
                        + NearestName.among(key, settings)
                            .map(k -> " (did you mean '" + k + "'?)")
                            .orElse(""));
              }
            });
    if (!unknown.isEmpty()) {
      throw new ConfigException(
          "Config file "
              + configFile
              + ": unknown "
              + (unknown.size() == 1 ? "key " : "keys ")
              + String.join(", ", unknown)
              + "; keys are the long option names without dashes (see 'replicador COMMAND"
              + " --help')");
    }
  }

  @Override
  public String defaultValue(ArgSpec argSpec) {
    if (!(argSpec instanceof OptionSpec option) || !option.longestName().startsWith("--")) {
      return null;
    }
    String key = option.longestName().substring(2);
    if (NOT_SETTINGS.contains(key)) {
      return null;
    }
    String fromEnv =
        environment.get("REPLICADOR_" + key.toUpperCase(Locale.ROOT).replace('-', '_'));
    if (fromEnv != null) {
      return fromEnv;
    }
    if (yaml == null || yaml.isNull()) {
      return null;
    }
    JsonNode value = yaml.get(key);
    if (value == null || value.isNull()) {
      return null;
    }
    if (value.isArray()) {
      List<String> parts = new ArrayList<>();
      value.forEach(v -> parts.add(v.asText()));
      return String.join(",", parts);
    }
    if (value.isContainerNode()) {
      throw new ConfigException(
          "Config file " + configFile + ": key '" + key + "' must be a value or a list");
    }
    return value.asText();
  }
}
