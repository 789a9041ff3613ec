package io.replicador.apply;

import io.replicador.change.TableName;
import java.sql.SQLException;

/**
 * A change the replica cannot take (missing table or column, type or constraint error). Nothing of
 * the batch is committed; the listener keeps the messages and retries.
 */
public final class ApplyException extends Exception {
  private static final long serialVersionUID = 1L;

  /** The table the change was for, or null when the failure is not about one table. */
  private final transient TableName table;

  public ApplyException(String message) {
    this(message, (TableName) null);
  }

  public ApplyException(String message, SQLException cause) {
    this(message, cause, null);
  }

  public ApplyException(String message, TableName table) {
    super(message);
    this.table = table;
  }

  public ApplyException(String message, SQLException cause, TableName table) {
    super(message, cause);
    this.table = table;
  }

  /** The table the change that failed was for, or null when not about one table. */
  public TableName table() {
    return table;
  }
}
