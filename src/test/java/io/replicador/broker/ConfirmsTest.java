package io.replicador.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class ConfirmsTest {

  @Test
  void aWaitEndsAtOnceWhenTheChannelCloses() throws Exception {
    Confirms confirms = new Confirms();
    confirms.published(1);
    confirms.published(2);
    confirms.handleAck(1, false);

    CompletableFuture<Boolean> waiting =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return confirms.await(2, Duration.ofMinutes(10));
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              } catch (InterruptedException e) {
                throw new IllegalStateException(e);
              }
            });
    confirms.lost(new ShutdownSignalException(true, false, null, null, "connection reset", null));

    assertThatThrownBy(waiting::join)
        .hasRootCauseInstanceOf(ShutdownSignalException.class)
        .hasMessageContaining("The channel closed before the broker confirmed");
    assertThat(confirms.confirmed(1)).as("what was confirmed stays confirmed").isTrue();
  }
}
