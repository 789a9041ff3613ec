package io.replicador.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.config.ConfigException;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StreamRetentionTest {
  @Test
  void nothingGivenDeclaresAPlainStream() {
    StreamRetention r = StreamRetention.parse(null, null, null);

    assertThat(r).isEqualTo(StreamRetention.NONE);
    assertThat(r.arguments()).isEqualTo(Map.of("x-queue-type", "stream"));
  }

  @Test
  void givenSettingsBecomeRabbitMqArguments() {
    StreamRetention r = StreamRetention.parse("7D", "20GB", "500MiB");

    assertThat(r.arguments())
        .containsEntry("x-queue-type", "stream")
        .containsEntry("x-max-age", "7D")
        .containsEntry("x-max-length-bytes", 20_000_000_000L)
        .containsEntry("x-stream-max-segment-size-bytes", 500L * 1024 * 1024);
    assertThat(r.toString()).contains("7D").contains("20000000000");
  }

  @Test
  void plainByteCountsAndEveryAgeUnitAreTaken() {
    assertThat(StreamRetention.parse("24h", "1000", "4096").maxBytes()).isEqualTo(1000L);
    for (String age : new String[] {"1Y", "2M", "3D", "4h", "5m", "6s"}) {
      assertThat(StreamRetention.parse(age, null, null).maxAge()).isEqualTo(age);
    }
    assertThat(StreamRetention.parse(null, "3 kB", null).maxBytes()).isEqualTo(3000L);
  }

  @Test
  void aMalformedAgeNamesTheFlagAndTheFormat() {
    assertThatThrownBy(() -> StreamRetention.parse("7 days", null, null))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("--stream-max-age is '7 days'")
        .hasMessageContaining("7D");
    assertThatThrownBy(() -> StreamRetention.parse("0D", null, null))
        .hasMessageContaining("--stream-max-age");
  }

  @Test
  void malformedOrOutOfRangeBytesNameTheFlag() {
    assertThatThrownBy(() -> StreamRetention.parse(null, "lots", null))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("--stream-max-bytes is 'lots'")
        .hasMessageContaining("20GB");
    assertThatThrownBy(() -> StreamRetention.parse(null, "0", null))
        .hasMessageContaining("--stream-max-bytes");
    assertThatThrownBy(() -> StreamRetention.parse(null, null, "4GB"))
        .hasMessageContaining("--stream-segment-bytes is '4GB'")
        .hasMessageContaining("3000000000");
    assertThatThrownBy(() -> StreamRetention.parse(null, "999999999999999TB", null))
        .hasMessageContaining("--stream-max-bytes");
  }
}
