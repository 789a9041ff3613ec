package io.replicador.cli;

import io.replicador.RetryingService;
import io.replicador.metrics.Readiness;

/**
 * Turns a long-running command's sessions into readiness: not ready from start until a session has
 * reached both servers, and again from a failed session until the next one has; counts each session
 * after a failure as a reconnect.
 */
final class SessionHealth implements RetryingService.SessionObserver {
  static final String CHECK = "connection";

  private final Readiness readiness;
  private final Runnable reconnected;
  private boolean failed;

  SessionHealth(Readiness readiness, String servers, Runnable reconnected) {
    this.readiness = readiness;
    this.reconnected = reconnected;
    readiness.problem(CHECK, "not yet connected to " + servers);
  }

  @Override
  public void connected() {
    readiness.clear(CHECK);
    if (failed) {
      reconnected.run();
      failed = false;
    }
  }

  @Override
  public void failed(String reason) {
    readiness.problem(CHECK, reason);
    failed = true;
  }
}
