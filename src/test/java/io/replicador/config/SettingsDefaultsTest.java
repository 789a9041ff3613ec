package io.replicador.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

class SettingsDefaultsTest {
  @TempDir Path dir;

  @Command(name = "test")
  static final class Options {
    @Option(names = "--queue-type")
    String queueType;

    @Option(names = "--tables")
    String tables;

    @Option(names = {"-b", "--batch-size"})
    int batchSize = 100;

    @Option(names = "--config")
    Path config;

    @Option(names = "-x")
    String shortOnly;
  }

  private Path yaml(String text) throws IOException {
    Path file = dir.resolve("replicador.yaml");
    Files.writeString(file, text);
    return file;
  }

  private static Options parse(SettingsDefaults defaults, String... args) {
    Options options = new Options();
    CommandLine cli = new CommandLine(options);
    cli.setDefaultValueProvider(defaults);
    cli.parseArgs(args);
    return options;
  }

  @Test
  void takesValuesFromYamlFile() throws Exception {
    Path file = yaml("queue-type: quorum\nbatch-size: 500\n");

    Options o = parse(new SettingsDefaults(Map.of(), file));

    assertThat(o.queueType).isEqualTo("quorum");
    assertThat(o.batchSize).isEqualTo(500);
  }

  @Test
  void environmentWinsOverYamlFile() throws Exception {
    Path file = yaml("queue-type: quorum\n");

    Options o = parse(new SettingsDefaults(Map.of("REPLICADOR_QUEUE_TYPE", "classic"), file));

    assertThat(o.queueType).isEqualTo("classic");
  }

  @Test
  void commandLineWinsOverEnvironmentAndYaml() throws Exception {
    Path file = yaml("queue-type: quorum\nbatch-size: 500\n");
    SettingsDefaults defaults =
        new SettingsDefaults(
            Map.of("REPLICADOR_QUEUE_TYPE", "classic", "REPLICADOR_BATCH_SIZE", "7"), file);

    Options o = parse(defaults, "--queue-type", "stream", "-b", "9");

    assertThat(o.queueType).isEqualTo("stream");
    assertThat(o.batchSize).isEqualTo(9);
  }

  @Test
  void yamlListBecomesCommaSeparatedValue() throws Exception {
    Path file = yaml("tables:\n  - public.orders\n  - '\"Sales Data\".\"Items\"'\n");

    Options o = parse(new SettingsDefaults(Map.of(), file));

    assertThat(o.tables).isEqualTo("public.orders,\"Sales Data\".\"Items\"");
  }

  @Test
  void withoutEnvironmentOrFileTheOptionKeepsItsOwnDefault() {
    Options o = parse(new SettingsDefaults(Map.of("UNRELATED", "x"), null));

    assertThat(o.queueType).isNull();
    assertThat(o.batchSize).isEqualTo(100);
  }

  @Test
  void yamlNullAndAbsentKeysLeaveOptionUnset() throws Exception {
    Path file = yaml("queue-type: ~\nother: 1\n");

    Options o = parse(new SettingsDefaults(Map.of(), file));

    assertThat(o.queueType).isNull();
    assertThat(o.tables).isNull();
  }

  @Test
  void configOptionAndShortOnlyOptionsAreNotLookedUp() throws Exception {
    Path file = yaml("config: elsewhere.yaml\nx: 1\n");

    Options o = parse(new SettingsDefaults(Map.of("REPLICADOR_CONFIG", "other.yaml"), file));

    assertThat(o.config).isNull();
    assertThat(o.shortOnly).isNull();
  }

  @Test
  void emptyConfigFileIsAccepted() throws Exception {
    Path empty = yaml("");
    Options o = parse(new SettingsDefaults(Map.of(), empty));
    assertThat(o.queueType).isNull();

    Path commentsOnly = yaml("# nothing configured yet\n");
    o = parse(new SettingsDefaults(Map.of(), commentsOnly));
    assertThat(o.queueType).isNull();
  }

  @Test
  void missingConfigFileIsAConfigExceptionNamingIt() {
    Path missing = dir.resolve("nope.yaml");

    assertThatThrownBy(() -> new SettingsDefaults(Map.of(), missing))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(missing.toString())
        .hasMessageContaining("--config");
  }

  @Test
  void configFileThatIsNotAMappingIsRejected() throws Exception {
    Path file = yaml("- a\n- b\n");

    assertThatThrownBy(() -> new SettingsDefaults(Map.of(), file))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("not a YAML mapping");
  }

  @Test
  void invalidYamlIsRejected() throws Exception {
    Path file = yaml("queue-type: [unclosed\n");

    assertThatThrownBy(() -> new SettingsDefaults(Map.of(), file))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("not valid YAML")
        .hasCauseInstanceOf(IOException.class);
  }

  @Test
  void nestedMappingValueIsRejectedNamingKey() throws Exception {
    Path file = yaml("queue-type:\n  kind: quorum\n");
    SettingsDefaults defaults = new SettingsDefaults(Map.of(), file);
    CommandLine cli = new CommandLine(new Options());

    assertThatThrownBy(() -> defaults.defaultValue(cli.getCommandSpec().findOption("--queue-type")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("queue-type")
        .hasMessageContaining(file.toString());
  }

  @Test
  void fromArgsFindsConfigInEitherSpelling() throws Exception {
    Path file = yaml("queue-type: quorum\n");
    CommandLine cli = new CommandLine(new Options());
    var option = cli.getCommandSpec().findOption("--queue-type");

    assertThat(
            SettingsDefaults.fromArgs(new String[] {"run", "--config", file.toString()}, Map.of())
                .defaultValue(option))
        .isEqualTo("quorum");
    assertThat(
            SettingsDefaults.fromArgs(new String[] {"--config=" + file}, Map.of())
                .defaultValue(option))
        .isEqualTo("quorum");
  }

  @Test
  void fromArgsFallsBackToConfigVariableAndFlagWins() throws Exception {
    Path file = yaml("queue-type: quorum\n");
    Path other = dir.resolve("other.yaml");
    Files.writeString(other, "queue-type: stream\n");
    CommandLine cli = new CommandLine(new Options());
    var option = cli.getCommandSpec().findOption("--queue-type");

    assertThat(
            SettingsDefaults.fromArgs(new String[0], Map.of("REPLICADOR_CONFIG", file.toString()))
                .defaultValue(option))
        .isEqualTo("quorum");
    assertThat(
            SettingsDefaults.fromArgs(
                    new String[] {"--config", other.toString()},
                    Map.of("REPLICADOR_CONFIG", file.toString()))
                .defaultValue(option))
        .isEqualTo("stream");
  }

  @Test
  void fromArgsWithoutConfigReadsNoFile() throws Exception {
    CommandLine cli = new CommandLine(new Options());

    assertThat(
            SettingsDefaults.fromArgs(new String[] {"--queue-type", "x"}, Map.of())
                .defaultValue(cli.getCommandSpec().findOption("--queue-type")))
        .isNull();
  }

  @Test
  void unknownKeysAreRefusedNamingEachKeyTheFileAndTheNearestKnownKey() throws Exception {
    Path file = yaml("primry: postgresql://h/db\nqueue-type: quorum\ncolour: blue\n");
    SettingsDefaults defaults = new SettingsDefaults(Map.of(), file);

    assertThatThrownBy(() -> defaults.checkKeys(Set.of("primary", "queue-type", "tables")))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "Config file "
                + file
                + ": unknown keys 'primry' (did you mean 'primary'?),"
                + " 'colour'; keys are the long option names without dashes (see 'replicador"
                + " COMMAND --help')");
  }

  @Test
  void keysThatOnlyTheCommandLineTakesAreRefused() throws Exception {
    Path file = yaml("config: other.yaml\n");
    SettingsDefaults defaults = new SettingsDefaults(Map.of(), file);

    assertThatThrownBy(() -> defaults.checkKeys(Set.of("config", "primary")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("'config' (only the command line takes it)");
  }

  @Test
  void knownKeysAnEmptyFileAndNoFilePassTheCheck() throws Exception {
    Set<String> known = Set.of("primary", "queue-type");

    new SettingsDefaults(Map.of(), yaml("primary: x\nqueue-type: ~\n")).checkKeys(known);
    new SettingsDefaults(Map.of(), yaml("# nothing yet\n")).checkKeys(known);
    new SettingsDefaults(Map.of(), null).checkKeys(known);
  }
}
