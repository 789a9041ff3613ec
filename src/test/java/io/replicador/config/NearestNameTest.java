package io.replicador.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class NearestNameTest {
  private static final List<String> KEYS =
      List.of("primary", "replica", "amqp", "tables", "queue-type", "batch-rows", "jobs");

  @Test
  void suggestsTheKeyOneTypoAway() {
    assertThat(NearestName.among("primry", KEYS)).contains("primary");
    assertThat(NearestName.among("tabels", KEYS)).contains("tables");
    assertThat(NearestName.among("queue_type", KEYS)).contains("queue-type");
    assertThat(NearestName.among("Replica", KEYS)).contains("replica");
    assertThat(NearestName.among("jbs", KEYS)).contains("jobs");
  }

  @Test
  void suggestsNothingForAnUnrelatedName() {
    assertThat(NearestName.among("password", KEYS)).isEmpty();
    assertThat(NearestName.among("x", KEYS)).isEmpty();
    assertThat(NearestName.among("batch", KEYS)).isEmpty();
  }

  @Test
  void distanceCountsASwapAsOneEdit() {
    assertThat(NearestName.distance("tabels", "tables")).isEqualTo(1);
    assertThat(NearestName.distance("", "amqp")).isEqualTo(4);
    assertThat(NearestName.distance("amqp", "amqp")).isZero();
  }
}
