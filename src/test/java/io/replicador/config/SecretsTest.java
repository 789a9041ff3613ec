package io.replicador.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SecretsTest {

  @Test
  void findsPasswordsInUserInfoAndParameters() {
    assertThat(Secrets.holdsPassword("postgresql://app:TopSecret@h/db")).isTrue();
    assertThat(Secrets.holdsPassword("amqp://guest:guest@127.0.0.1:5672/")).isTrue();
    assertThat(Secrets.holdsPassword("jdbc:postgresql://h/db?user=u&password=TopSecret")).isTrue();
    assertThat(Secrets.holdsPassword("host=h password=TopSecret dbname=db")).isTrue();
    assertThat(Secrets.holdsPassword("postgresql://:TopSecret@h/db")).isTrue();

    assertThat(Secrets.holdsPassword("postgresql://app@h:5432/db")).isFalse();
    assertThat(Secrets.holdsPassword("postgresql://h:5432/db?sslmode=require")).isFalse();
    assertThat(Secrets.holdsPassword("--primry")).isFalse();
    assertThat(Secrets.holdsPassword(null)).isFalse();
  }

  @Test
  void redactHidesEveryPasswordWholeAndKeepsTheRest() {
    assertThat(Secrets.redact("postgresql://app:TopSecret@h:5432/db?sslmode=require"))
        .isEqualTo("postgresql://app:***@h:5432/db?sslmode=require");
    assertThat(Secrets.redact("postgresql://u:Top@Secret@h/db"))
        .isEqualTo("postgresql://u:***@h/db");
    assertThat(Secrets.redact("jdbc:postgresql://h/db?user=u&password=TopSecret&ssl=true"))
        .isEqualTo("jdbc:postgresql://h/db?user=u&password=***&ssl=true");
    assertThat(Secrets.redact("host=h PASSWORD=TopSecret dbname=db"))
        .isEqualTo("host=h PASSWORD=*** dbname=db")
        .doesNotContain("TopSecret");
    assertThat(Secrets.redact("postgresql://app@h/db")).isEqualTo("postgresql://app@h/db");
  }

  @Test
  void withoutPasswordLeavesAWorkingAddress() {
    assertThat(Secrets.withoutPassword("postgresql://app:TopSecret@h:5432/db?sslmode=require"))
        .isEqualTo("postgresql://app@h:5432/db?sslmode=require");
    assertThat(Secrets.withoutPassword("postgresql://:TopSecret@h/db"))
        .isEqualTo("postgresql://@h/db");
    assertThat(Secrets.withoutPassword("postgresql://h/db?password=TopSecret&sslmode=require"))
        .isEqualTo("postgresql://h/db?sslmode=require");
    assertThat(Secrets.withoutPassword("jdbc:postgresql://h/db?user=u&password=TopSecret"))
        .isEqualTo("jdbc:postgresql://h/db?user=u");
    assertThat(Secrets.withoutPassword("postgresql://app@h/db")).isEqualTo("postgresql://app@h/db");
  }
}
