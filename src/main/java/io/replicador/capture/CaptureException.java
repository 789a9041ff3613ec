package io.replicador.capture;

/** Capture cannot be installed as asked; the message names each table and what to do. */
public final class CaptureException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public CaptureException(String message) {
    super(message);
  }
}
