package io.replicador.publish;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ClaimPacerTest {
  private static final long MS = 1_000_000;

  @Test
  void aSteadyThousandPerSecondNeverWaitsEvenWithBursts() {
    ClaimPacer pacer = new ClaimPacer(0);
    long now = 0;
    for (int cycle = 0; cycle < 200; cycle++) {
      now += 4 * MS;
      // a cycle of 4 ms now and then finds 12 transactions (3 per ms), on average 4 (1 per ms)
      pacer.claimed(now, cycle % 4 == 0 ? 12 : 1);
      assertThat(pacer.waitBeforeClaim(now)).isZero();
    }
  }

  @Test
  void aBusyStreamWaitsForTheIntervalFromTheLastClaim() {
    ClaimPacer pacer = new ClaimPacer(0);
    long now = 0;
    for (int cycle = 0; cycle < 20; cycle++) {
      now += 10 * MS;
      pacer.claimed(now, 30); // 3 per ms
    }
    assertThat(pacer.waitBeforeClaim(now)).isEqualTo(ClaimPacer.BUSY_INTERVAL);
    assertThat(pacer.waitBeforeClaim(now + 20 * MS))
        .isEqualTo(ClaimPacer.BUSY_INTERVAL.minus(Duration.ofMillis(20)));
    assertThat(pacer.waitBeforeClaim(now + 80 * MS)).isZero();
  }

  @Test
  void aStreamThatSlowsDownStopsWaitingAfterOneWindow() {
    ClaimPacer pacer = new ClaimPacer(0);
    long now = 0;
    for (int cycle = 0; cycle < 4; cycle++) {
      now += 50 * MS;
      pacer.claimed(now, 150);
    }
    assertThat(pacer.waitBeforeClaim(now)).isPositive();
    for (int cycle = 0; cycle < 4; cycle++) {
      now += 50 * MS;
      pacer.claimed(now, 10);
    }
    assertThat(pacer.waitBeforeClaim(now)).isZero();
  }
}
