package io.replicador.codec;

/** A broker message that is not a change message this version understands. */
public final class MalformedMessageException extends Exception {
  private static final long serialVersionUID = 1L;

  public MalformedMessageException(String reason) {
    super(reason);
  }

  public MalformedMessageException(String reason, Throwable cause) {
    super(reason, cause);
  }
}
