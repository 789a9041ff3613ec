package io.replicador.metrics;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import io.replicador.config.ConfigException;
import java.util.Locale;
import org.slf4j.LoggerFactory;

/**
 * The format of log lines on standard error: {@code text} (logback.xml's pattern) or {@code json}
 * ({@link JsonLogLayout}). Chosen once, at start, before the command logs anything.
 */
public enum LogFormat {
  TEXT,
  JSON;

  /** Parses {@code --log-format}; a one-line error naming the option when wrong. */
  public static LogFormat parse(String value) {
    if (value == null) {
      return TEXT;
    }
    try {
      return valueOf(value.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException("--log-format must be text or json, got '" + value + "'", e);
    }
  }

  /** Switches the console appender of logback.xml to this format. */
  public void apply() {
    if (this == TEXT || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      return;
    }
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    if (!(root.getAppender("STDERR") instanceof ConsoleAppender<ILoggingEvent> console)) {
      return;
    }
    JsonLogLayout layout = new JsonLogLayout();
    layout.setContext(context);
    layout.start();
    LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
    encoder.setContext(context);
    encoder.setLayout(layout);
    encoder.start();
    console.stop();
    console.setEncoder(encoder);
    console.start();
  }
}
