package io.replicador.verify;

/** Verify cannot compare: a table or column is missing, or the replica did not catch up. */
public final class VerifyException extends Exception {
  private static final long serialVersionUID = 1L;

  public VerifyException(String message) {
    super(message);
  }
}
