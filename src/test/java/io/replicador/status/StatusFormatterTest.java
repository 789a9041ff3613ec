package io.replicador.status;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class StatusFormatterTest {
  private static PrimaryStatus primary() {
    return new PrimaryStatus(
        "postgresql://p/db", "src", 0, 0, null, null, 120, null, null, null, null, List.of(), null);
  }

  @Test
  void aStreamReplicaShowsHowFarBehindTheStreamsEndItIs() {
    ReplicaStatus r =
        new ReplicaStatus(
            "r1",
            "replicador:stream:ex",
            null,
            null,
            2L,
            100L,
            20L,
            1.5,
            1.5,
            null,
            null,
            "replicador:stream:ex",
            37L);

    String text = StatusFormatter.text(new Status(primary(), List.of(r)));

    assertThat(text)
        .contains("Replica r1 (stream replicador:stream:ex)")
        .contains("  stream: 37 message(s) behind its end, 2 dead-lettered")
        .contains("applied position 100 (20 behind)")
        .doesNotContain("queue:");
    assertThat(StatusFormatter.json(new Status(primary(), List.of(r))))
        .contains("\"streamBehind\" : 37")
        .contains("\"stream\" : \"replicador:stream:ex\"");
  }

  @Test
  void aStreamReplicaWhosePlaceIsUnknownSaysSo() {
    ReplicaStatus r =
        new ReplicaStatus(
            "r1",
            "replicador:stream:ex",
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            "reads stream replicador:stream:ex (give --replica r1=URL)",
            null,
            "replicador:stream:ex",
            null);

    assertThat(StatusFormatter.text(new Status(primary(), List.of(r))))
        .contains("  stream: how far behind its end is unknown, no dead-lettered")
        .contains("  note: reads stream");
  }

  @Test
  void aQueueReplicaIsShownAsBefore() {
    ReplicaStatus r =
        new ReplicaStatus("r1", "replicador.r1", 5L, 1, 0L, 100L, 20L, 1.5, 1.5, null, null);

    assertThat(StatusFormatter.text(new Status(primary(), List.of(r))))
        .contains("Replica r1 (queue replicador.r1)")
        .contains("  queue: 5 message(s) waiting, 1 consumer(s), 0 dead-lettered")
        .doesNotContain("stream");
  }
}
