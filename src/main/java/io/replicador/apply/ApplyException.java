package io.replicador.apply;

import java.sql.SQLException;

/**
 * A change the replica cannot take (missing table or column, type or constraint error). Nothing of
 * the batch is committed; the listener keeps the messages and retries.
 */
public final class ApplyException extends Exception {
  private static final long serialVersionUID = 1L;

  public ApplyException(String message) {
    super(message);
  }

  public ApplyException(String message, SQLException cause) {
    super(message, cause);
  }
}
