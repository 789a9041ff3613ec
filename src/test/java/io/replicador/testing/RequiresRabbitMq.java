package io.replicador.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks a test (or class) that needs a RabbitMQ feature the embedded broker lacks; the value names
 * the feature. Such tests are skipped, with a message saying why, when the tests run against the
 * embedded broker (no RabbitMQ on 127.0.0.1:5672 and no REPLICADOR_TEST_AMQP).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresRabbitMq.Condition.class)
public @interface RequiresRabbitMq {
  /** The RabbitMQ feature the test relies on, e.g. "single active consumer". */
  String value();

  /** Evaluates {@link RequiresRabbitMq}: enabled only when the test broker is RabbitMQ. */
  final class Condition implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
      RequiresRabbitMq need =
          context.getElement().map(e -> e.getAnnotation(RequiresRabbitMq.class)).orElse(null);
      if (need == null) {
        return ConditionEvaluationResult.enabled("no RabbitMQ-only feature");
      }
      if (TestEnvironment.brokerIsRabbitMq()) {
        return ConditionEvaluationResult.enabled("RabbitMQ at " + redacted());
      }
      return ConditionEvaluationResult.disabled(
          "needs RabbitMQ ("
              + need.value()
              + "), but the tests run against the embedded AMQP"
              + " broker because no RabbitMQ answered on 127.0.0.1:5672; start RabbitMQ or set"
              + " REPLICADOR_TEST_AMQP to run it");
    }

    private static String redacted() {
      return io.replicador.broker.BrokerAddress.parse(TestEnvironment.amqpUri()).toString();
    }
  }
}
