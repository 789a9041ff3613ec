package io.replicador.status;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.Locale;

/** Prints a {@link Status} for people (text) or for scripts (one JSON document). Pure. */
public final class StatusFormatter {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private StatusFormatter() {}

  public static String json(Status status) {
    try {
      return JSON.writeValueAsString(status);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("Status is plain records; cannot fail to serialize", e);
    }
  }

  private static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    if (n < 1024 * 1024) {
      return String.format(Locale.ROOT, "%.1f kB", n / 1024.0);
    }
    if (n < 1024L * 1024 * 1024) {
      return String.format(Locale.ROOT, "%.1f MB", n / (1024.0 * 1024));
    }
    return String.format(Locale.ROOT, "%.2f GB", n / (1024.0 * 1024 * 1024));
  }

  /** The changelog's backlog (with capture from the WAL, only while the changelog drains). */
  private static void backlog(StringBuilder sb, PrimaryStatus p) {
    sb.append("  backlog: ")
        .append(p.backlogChanges())
        .append(" change(s) in ")
        .append(p.backlogTransactions())
        .append(" transaction(s) not yet shipped");
    if (p.backlogChanges() > 0) {
      sb.append("; oldest ");
      if (p.oldestAgeSeconds() != null) {
        sb.append(String.format(Locale.ROOT, "%.1f s, ", p.oldestAgeSeconds()));
      }
      sb.append(p.oldestAgeTransactions()).append(" transaction(s) old");
    }
    sb.append('\n');
  }

  public static String text(Status status) {
    StringBuilder sb = new StringBuilder();
    PrimaryStatus p = status.primary();
    sb.append("Primary ").append(p.address()).append(" (source ").append(p.source()).append(")\n");
    if (p.slot() == null || p.backlogChanges() > 0) {
      backlog(sb, p);
    }
    sb.append("  last position handed out: ").append(p.lastPosition());
    if (p.pendingFrom() != null) {
      sb.append(" (batch from ").append(p.pendingFrom()).append(" awaiting broker confirm)");
    }
    sb.append('\n');
    if (p.publisher() == null) {
      sb.append("  publisher: NONE ACTIVE (start 'replicador publish')\n");
    } else {
      PrimaryStatus.PublisherSession s = p.publisher();
      sb.append("  publisher: active, ")
          .append(p.activeBy() == null ? "?" : p.activeBy())
          .append(" (pid ")
          .append(s.pid())
          .append(", '")
          .append(s.applicationName())
          .append("'")
          .append(s.clientAddress() == null ? "" : " from " + s.clientAddress())
          .append(", since ")
          .append(p.activeSince())
          .append(")\n");
    }
    for (PrimaryStatus.PublisherSession s : p.standbys()) {
      sb.append("  publisher: standby (pid ")
          .append(s.pid())
          .append(", '")
          .append(s.applicationName())
          .append("'")
          .append(s.clientAddress() == null ? "" : " from " + s.clientAddress())
          .append(", since ")
          .append(s.backendStart())
          .append(")\n");
    }
    if (p.slot() != null) {
      PrimaryStatus.SlotStatus s = p.slot();
      sb.append("  capture: from the WAL, slot ")
          .append(s.name())
          .append(" (")
          .append(s.walStatus())
          .append(s.reading() ? ", read by the publisher" : ", nobody reads it")
          .append(")\n");
      sb.append(
          String.format(
              Locale.ROOT,
              "  retained WAL: %s, unconfirmed %s, last shipped %s\n",
              bytes(s.retainedBytes()),
              bytes(s.unconfirmedBytes()),
              s.lastShippedSecondsAgo() == null
                  ? "never"
                  : String.format(Locale.ROOT, "%.1f s ago", s.lastShippedSecondsAgo())));
      if (s.warning() != null) {
        sb.append("  WARNING: ").append(s.warning()).append('\n');
      }
    }
    for (ReplicaStatus r : status.replicas()) {
      sb.append("Replica ")
          .append(r.name())
          .append(r.stream() != null ? " (stream " : " (queue ")
          .append(r.queue())
          .append(")\n");
      if (r.stream() != null) {
        sb.append("  stream: ");
        if (r.streamBehind() == null) {
          sb.append("how far behind its end is unknown");
        } else {
          sb.append(r.streamBehind()).append(" message(s) behind its end");
        }
        sb.append(", ")
            .append(r.deadLettered() == null ? "no" : r.deadLettered())
            .append(" dead-lettered\n");
      }
      if (r.messages() != null) {
        sb.append("  queue: ")
            .append(r.messages())
            .append(" message(s) waiting, ")
            .append(r.consumers())
            .append(" consumer(s), ")
            .append(r.deadLettered() == null ? "no" : r.deadLettered())
            .append(" dead-lettered\n");
      }
      if (r.halted() != null) {
        sb.append("  HALTED: ").append(r.halted()).append('\n');
      }
      if (r.appliedPosition() != null) {
        sb.append("  applied position ")
            .append(r.appliedPosition())
            .append(" (")
            .append(r.behind())
            .append(" behind), last applied ")
            .append(
                String.format(
                    Locale.ROOT, "%.1f s ago, lag %.1f s", r.appliedAgeSeconds(), r.lagSeconds()))
            .append('\n');
      }
      if (r.problem() != null) {
        sb.append("  note: ").append(r.problem()).append('\n');
      }
    }
    return sb.toString();
  }
}
