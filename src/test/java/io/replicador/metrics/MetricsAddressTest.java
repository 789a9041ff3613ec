package io.replicador.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.config.ConfigException;
import org.junit.jupiter.api.Test;

class MetricsAddressTest {
  @Test
  void parsesHostAndPort() {
    assertThat(MetricsAddress.parse("0.0.0.0:9187")).isEqualTo(new MetricsAddress("0.0.0.0", 9187));
    assertThat(MetricsAddress.parse("localhost:0")).isEqualTo(new MetricsAddress("localhost", 0));
  }

  @Test
  void takesAnIpv6HostInBrackets() {
    MetricsAddress a = MetricsAddress.parse("[::1]:9187");
    assertThat(a.host()).isEqualTo("::1");
    assertThat(a).hasToString("[::1]:9187");
  }

  @Test
  void refusesWhatIsNotHostAndPortNamingTheOption() {
    for (String bad : new String[] {"9187", ":9187", "host:", "host:port", "::1:9187", "h:70000"}) {
      assertThatThrownBy(() -> MetricsAddress.parse(bad))
          .as(bad)
          .isInstanceOf(ConfigException.class)
          .hasMessageStartingWith("--metrics");
    }
  }
}
