package io.replicador.verify;

import io.replicador.change.TableName;
import io.replicador.config.PostgresAddress;
import java.time.Duration;
import java.util.List;

/**
 * What verify compares and how.
 *
 * @param tables the tables; empty for every table captured on the primary
 * @param maxRows differing rows listed per table at most
 * @param waitCaughtUp how long to wait for the replica to apply what the primary had committed when
 *     verify started; null to compare at once
 * @param consumer the listener name whose position counts when waiting; null for every listener of
 *     the replica
 */
public record VerifySettings(
    PostgresAddress primary,
    PostgresAddress replica,
    List<TableName> tables,
    int maxRows,
    Duration waitCaughtUp,
    String consumer) {

  public VerifySettings {
    tables = List.copyOf(tables);
  }
}
