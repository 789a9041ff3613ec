package io.replicador.publish;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ClaimPacerTest {
  private static final long MS = 1_000_000;

  /** A pacer that has seen claims every {@code every} ms finding {@code found} each, for 1 s. */
  private static ClaimPacer after(long every, int found) {
    ClaimPacer pacer = new ClaimPacer(0);
    for (long now = every * MS; now <= 1000 * MS; now += every * MS) {
      pacer.claimed(now, found);
    }
    return pacer;
  }

  @Test
  void theFirstClaimNeedNotWait() {
    assertThat(new ClaimPacer(0).waitBeforeClaim(0)).isZero();
  }

  @Test
  void belowTheBusyRateClaimsComeAtMostEveryInterval() {
    ClaimPacer pacer = new ClaimPacer(0);
    long now = 0;
    for (int cycle = 0; cycle < 200; cycle++) {
      now += 4 * MS;
      // a cycle of 4 ms now and then finds 12 transactions (3 per ms), on average 4 (1 per ms)
      pacer.claimed(now, cycle % 4 == 0 ? 12 : 1);
      assertThat(pacer.waitBeforeClaim(now)).isEqualTo(ClaimPacer.INTERVAL);
      assertThat(pacer.waitBeforeClaim(now + 3 * MS)).isEqualTo(Duration.ofMillis(2));
      assertThat(pacer.waitBeforeClaim(now + 5 * MS)).isZero();
    }
  }

  @Test
  void aBusyStreamWaitsForTheBusyIntervalFromTheLastClaim() {
    ClaimPacer pacer = after(10, 30); // 3 per ms
    long now = 1000 * MS;
    assertThat(pacer.waitBeforeClaim(now)).isEqualTo(ClaimPacer.BUSY_INTERVAL);
    assertThat(pacer.waitBeforeClaim(now + 20 * MS))
        .isEqualTo(ClaimPacer.BUSY_INTERVAL.minus(Duration.ofMillis(20)));
    assertThat(pacer.waitBeforeClaim(now + 80 * MS)).isZero();
  }

  @Test
  void aStreamThatSlowsDownGoesBackToTheShortIntervalAfterOneWindow() {
    ClaimPacer pacer = new ClaimPacer(0);
    long now = 0;
    for (int cycle = 0; cycle < 4; cycle++) {
      now += 50 * MS;
      pacer.claimed(now, 150);
    }
    assertThat(pacer.waitBeforeClaim(now)).isEqualTo(ClaimPacer.BUSY_INTERVAL);
    for (int cycle = 0; cycle < 4; cycle++) {
      now += 50 * MS;
      pacer.claimed(now, 10);
    }
    assertThat(pacer.waitBeforeClaim(now)).isEqualTo(ClaimPacer.INTERVAL);
  }

  @Test
  void aStreamCountsAsLivelyUntilAWholeWindowShowsOtherwise() {
    ClaimPacer pacer = new ClaimPacer(0);
    assertThat(pacer.quiet()).isFalse();
    pacer.claimed(50 * MS, 0); // half a window without changes: not yet quiet
    assertThat(pacer.quiet()).isFalse();
    pacer.claimed(100 * MS, 0);
    assertThat(pacer.quiet()).isTrue();
  }

  @Test
  void theDoorbellIsWorthArmingForAQuietStreamAndNotForALivelyOne() {
    ClaimPacer trickle = after(100, 2); // 20 a second
    assertThat(trickle.quiet()).isTrue();
    assertThat(trickle.lively()).isFalse();

    ClaimPacer thousand = after(5, 5); // 1,000 a second
    assertThat(thousand.quiet()).isFalse();
    assertThat(thousand.lively()).isTrue();

    // in between, an armed doorbell stays armed and an unarmed one unarmed
    ClaimPacer between = after(10, 3); // 300 a second
    assertThat(between.quiet()).isFalse();
    assertThat(between.lively()).isFalse();
  }

  @Test
  void aStreamIdleForLongCountsAsQuietOnItsNextClaim() {
    ClaimPacer pacer = after(5, 10); // busy
    pacer.claimed(30_000 * MS, 1); // one change after half a minute of nothing
    assertThat(pacer.quiet()).isTrue();
  }
}
