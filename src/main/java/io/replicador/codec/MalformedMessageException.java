package io.replicador.codec;

/**
 * A broker message that is not a change message this version understands.
 *
 * <p>{@link #ours} tells the two kinds apart: a message that is not a change message at all (a
 * foreign producer's, dead-lettered), and one that says it is part of the change stream but cannot
 * be read here (a newer version, a limit of this reader). A replica must not skip the latter: it
 * holds changes.
 */
public final class MalformedMessageException extends Exception {
  private static final long serialVersionUID = 1L;

  private final boolean ours;

  public MalformedMessageException(String reason) {
    this(reason, false, null);
  }

  public MalformedMessageException(String reason, Throwable cause) {
    this(reason, false, cause);
  }

  public MalformedMessageException(String reason, boolean ours, Throwable cause) {
    super(reason, cause);
    this.ours = ours;
  }

  /** Whether the message declared itself a change message (format "replicador"). */
  public boolean ours() {
    return ours;
  }

  /** The same failure, known to be about a message of the change stream. */
  MalformedMessageException asOurs() {
    return ours ? this : new MalformedMessageException(getMessage(), true, getCause());
  }
}
