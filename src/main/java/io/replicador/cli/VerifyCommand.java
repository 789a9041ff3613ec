package io.replicador.cli;

import io.replicador.Failures;
import io.replicador.config.ConfigException;
import io.replicador.config.PostgresAddress;
import io.replicador.verify.Difference;
import io.replicador.verify.Repairer;
import io.replicador.verify.TableResult;
import io.replicador.verify.Verifier;
import io.replicador.verify.VerifySettings;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "verify",
    description =
        "Compare primary and replica table by table, naming differing rows."
            + " Exit status 0: equal, 1: differences found, 2: error.")
final class VerifyCommand implements Callable<Integer> {
  static final int EXIT_DIFFERENT = 1;

  @Mixin Main.CommonOptions common;

  @Mixin PrimaryOption primary;

  @Option(names = "--replica", paramLabel = "URL", description = "The replica database.")
  String replica;

  @Option(
      names = "--tables",
      paramLabel = "S.T[,S.T...]",
      description = "Compare only these tables (default: every table captured on the primary).")
  String tables;

  @Option(
      names = "--max-rows",
      paramLabel = "N",
      defaultValue = "100",
      description = "Differing rows listed per table at most (default: ${DEFAULT-VALUE}).")
  int maxRows;

  @Option(
      names = "--wait-caught-up",
      paramLabel = "SECONDS",
      description =
          "First wait up to SECONDS until the replica applied everything the primary had"
              + " committed when verify started.")
  Integer waitCaughtUp;

  @Option(
      names = "--name",
      paramLabel = "NAME",
      description = "With --wait-caught-up: the listener whose position counts (default: all).")
  String name;

  @Option(
      names = "--repair",
      description =
          "Bring the differing rows listed back to the primary's values through the change"
              + " stream: the primary re-emits its current version of each (the replica upserts"
              + " it, or deletes it when the primary has none), in order with the changes around"
              + " it. Run verify again once the replica caught up.")
  boolean repair;

  @Override
  public Integer call() {
    try {
      return compare();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      System.err.println("replicador: verify interrupted");
      return Main.EXIT_ERROR;
    } catch (Exception e) {
      // One line for any failure; verify's exit status 1 is reserved for differences.
      System.err.println("replicador: " + Failures.describe(e));
      if (common.verbose) {
        e.printStackTrace();
      }
      return Main.EXIT_ERROR;
    }
  }

  private int compare() throws Exception {
    if (maxRows < 1) {
      throw new ConfigException("--max-rows must be at least 1, got " + maxRows);
    }
    if (waitCaughtUp != null && waitCaughtUp < 0) {
      throw new ConfigException("--wait-caught-up must be 0 or more seconds, got " + waitCaughtUp);
    }
    if (name != null) {
      ReplicaNames.checkName("--name", name);
    }
    TableSelection selection = new TableSelection();
    selection.tables = tables;
    VerifySettings settings =
        new VerifySettings(
            primary.address(),
            PostgresAddress.parse("replica", replica),
            selection.named(),
            maxRows,
            waitCaughtUp == null ? null : Duration.ofSeconds(waitCaughtUp),
            name);
    List<TableResult> results = new Verifier(settings, Clock.systemUTC()).run();
    int different = 0;
    for (TableResult r : results) {
      if (r.missingOnReplica()) {
        System.out.println(
            r.table() + ": missing on the replica (" + r.primaryRows() + " rows on the primary)");
      } else if (r.equal()) {
        System.out.println(r.table() + ": equal (" + r.primaryRows() + " rows)");
      } else {
        System.out.println(
            r.table()
                + ": DIFFERENT ("
                + r.primaryRows()
                + " rows on the primary, "
                + r.replicaRows()
                + " on the replica)");
        for (Difference d : r.differences()) {
          System.out.printf("  %-8s %s%n", d.kind().label(), d.keyText());
        }
        if (r.more()) {
          System.out.println("  ... more differences; raise --max-rows to list them");
        }
      }
      if (!r.equal()) {
        different++;
      }
    }
    System.out.println(
        different == 0
            ? "All " + results.size() + " table(s) equal."
            : different + " of " + results.size() + " table(s) differ.");
    if (repair && different > 0) {
      repair(settings, results);
    }
    return different == 0 ? 0 : EXIT_DIFFERENT;
  }

  private static void repair(VerifySettings settings, List<TableResult> results) throws Exception {
    List<Repairer.Repaired> repaired = new Repairer(settings.primary()).repair(results);
    for (Repairer.Repaired r : repaired) {
      System.out.println(
          "repaired "
              + r.table().table()
              + " "
              + r.row().keyText()
              + (r.upserted() ? ": re-sent the primary's row" : ": deleted, not on the primary"));
    }
    boolean more = false;
    for (TableResult r : results) {
      if (r.missingOnReplica()) {
        System.out.println(
            r.table() + ": not repaired, missing on the replica; create it with snapshot");
      }
      more |= r.more();
    }
    System.out.println(
        "Repaired "
            + repaired.size()
            + " row(s) through the change stream"
            + (more ? "; more differ than were listed: run verify --repair again" : "")
            + "; run verify again (--wait-caught-up) once the replica has applied them.");
  }
}
