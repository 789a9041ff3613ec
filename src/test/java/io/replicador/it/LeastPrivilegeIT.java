package io.replicador.it;

import static io.replicador.testing.Db.exec;
import static io.replicador.testing.Db.query;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.replicador.apply.ListenerSettings;
import io.replicador.cli.Main;
import io.replicador.codec.MessageSignature;
import io.replicador.codec.SigningKey;
import io.replicador.testing.CliRun;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Issue 21: the roles and grants of docs/security.md ("Roles") replicate end to end: an installer
 * that does not own the tables, an application role that writes one table and can neither read nor
 * forge the changelog, a publisher that owns nothing, and a listener that is not a superuser.
 */
class LeastPrivilegeIT {
  private ReplicationFixture fx;
  private String replicaDb;
  private String suffix;

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
    // roles belong to the cluster: named after this run's database
    suffix = fx.name.substring(fx.name.lastIndexOf('_') + 1);
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
    for (String role : List.of("inst_", "app_", "pub_")) {
      exec(
          fx.primaryCluster,
          fx.primaryDb,
          "DROP OWNED BY " + role + suffix + " CASCADE",
          "DROP ROLE " + role + suffix);
    }
    exec(
        fx.replicaCluster,
        replicaDb,
        "DROP OWNED BY lst_" + suffix + " CASCADE",
        "DROP ROLE lst_" + suffix);
  }

  private static String as(String uri, String role) {
    return uri.replace("postgres@", role + "@");
  }

  @Test
  void theDocumentedRolesReplicateEndToEnd() {
    String installer = "inst_" + suffix;
    String app = "app_" + suffix;
    String publisher = "pub_" + suffix;
    String listener = "lst_" + suffix;
    // the application's table, owned by someone else (here the superuser)
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "CREATE TABLE public.accounts (id int PRIMARY KEY, owner text)",
        // installer: creates the replicador schema and the capture triggers
        "CREATE ROLE " + installer + " LOGIN",
        "GRANT CREATE ON DATABASE " + fx.primaryDb + " TO " + installer,
        "GRANT USAGE ON SCHEMA public TO " + installer,
        "GRANT TRIGGER ON public.accounts TO " + installer,
        // the application: writes its table, nothing else
        "CREATE ROLE " + app + " LOGIN",
        "GRANT USAGE ON SCHEMA public TO " + app,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON public.accounts TO " + app,
        // publisher: owns nothing
        "CREATE ROLE " + publisher + " LOGIN");
    exec(
        fx.replicaCluster,
        replicaDb,
        "CREATE TABLE public.accounts (id int PRIMARY KEY, owner text)",
        "CREATE ROLE " + listener + " LOGIN",
        "GRANT CREATE ON DATABASE " + replicaDb + " TO " + listener,
        "GRANT USAGE ON SCHEMA public TO " + listener,
        "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.accounts TO " + listener,
        // fires unless the listener applies as session_replication_role = replica
        "CREATE TABLE public.fired (id int)",
        "CREATE FUNCTION public.fired() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS"
            + " $$ BEGIN INSERT INTO public.fired VALUES (1); RETURN NULL; END $$",
        "CREATE TRIGGER fired AFTER INSERT OR UPDATE OR DELETE ON public.accounts"
            + " FOR EACH ROW EXECUTE FUNCTION public.fired()");

    boolean grantable =
        Integer.parseInt(query(fx.replicaCluster, replicaDb, "SHOW server_version_num")) >= 150000;
    if (grantable) {
      exec(
          fx.replicaCluster,
          replicaDb,
          "GRANT SET ON PARAMETER session_replication_role TO " + listener);
    }
    String primaryAsInstaller = as(fx.primaryUri(), installer);
    assertThat(Main.run("install", "--primary", primaryAsInstaller, "--tables", "public.accounts"))
        .isZero();
    // what the installer grants the publisher, now and for tables a later upgrade adds
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "SET ROLE " + installer,
        "GRANT USAGE ON SCHEMA replicador TO " + publisher,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA replicador TO " + publisher,
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA replicador TO " + publisher,
        "ALTER DEFAULT PRIVILEGES IN SCHEMA replicador GRANT SELECT, INSERT, UPDATE, DELETE"
            + " ON TABLES TO "
            + publisher,
        "ALTER DEFAULT PRIVILEGES IN SCHEMA replicador GRANT USAGE, SELECT, UPDATE"
            + " ON SEQUENCES TO "
            + publisher);

    MessageSignature key =
        new MessageSignature(
            List.of(
                SigningKey.of(
                    ("secret of " + fx.name + " at least 32 bytes long")
                        .getBytes(StandardCharsets.UTF_8))));
    fx.startListener(
        "r1",
        Set.of(),
        ListenerSettings.DEFAULT_PREFETCH,
        as(fx.replicaCluster.uri(replicaDb), listener),
        false,
        key);
    fx.startPublisher(as(fx.primaryUri(), publisher), key);

    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "SET ROLE " + app,
        "INSERT INTO public.accounts VALUES (1, 'ada'), (2, 'bob'), (3, 'cy')",
        "UPDATE public.accounts SET owner = 'ada l.' WHERE id = 1",
        "DELETE FROM public.accounts WHERE id = 2");
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                "1=ada l.,3=cy"
                    .equals(
                        query(
                            fx.replicaCluster,
                            replicaDb,
                            "SELECT string_agg(id || '=' || owner, ',' ORDER BY id)"
                                + " FROM public.accounts")));

    // the application can neither read nor forge the changelog
    for (String sql :
        List.of(
            "SELECT count(*) FROM replicador.changelog",
            "INSERT INTO replicador.changelog (relid, schema_name, table_name, op, new_row)"
                + " VALUES ('public.accounts'::regclass, 'public', 'accounts', 'I', '(9,x)')",
            "UPDATE replicador.publisher SET next_position = 1000000")) {
      assertThatThrownBy(() -> exec(fx.primaryCluster, fx.primaryDb, "SET ROLE " + app, sql))
          .hasMessageContaining("permission denied for schema replicador");
    }
    // and the listener is not a superuser, yet applied with session_replication_role (15+)
    if (grantable) {
      assertThat(query(fx.replicaCluster, replicaDb, "SELECT count(*) FROM public.fired"))
          .isEqualTo("0");
    }
    assertThat(
            query(
                fx.replicaCluster,
                replicaDb,
                "SELECT rolsuper FROM pg_roles WHERE rolname = '" + listener + "'"))
        .isEqualTo("f");

    // a schema change (issue 24): made with ddl by a role that owns the table and may record
    // (here the superuser), run on the replica by the listener, which owns the table there
    exec(fx.replicaCluster, replicaDb, "ALTER TABLE public.accounts OWNER TO " + listener);
    CliRun ddl =
        CliRun.of(
            "ddl",
            "--primary",
            fx.primaryUri(),
            "ALTER TABLE public.accounts ADD COLUMN note text DEFAULT 'n'");
    assertThat(ddl.status()).as(ddl.err()).isZero();
    exec(
        fx.primaryCluster,
        fx.primaryDb,
        "SET ROLE " + app,
        "INSERT INTO public.accounts (id, owner) VALUES (4, 'di')");
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions() // until the column is there
        .until(
            () ->
                "1=ada l.=n,3=cy=n,4=di=n"
                    .equals(
                        query(
                            fx.replicaCluster,
                            replicaDb,
                            "SELECT string_agg(id || '=' || owner || '=' || note, ',' ORDER BY id)"
                                + " FROM public.accounts")));
    // the publisher may write the changelog, but not record statements for replicas to run
    assertThatThrownBy(
            () ->
                exec(
                    fx.primaryCluster,
                    fx.primaryDb,
                    "SET ROLE " + publisher,
                    "SELECT replicador.record_ddl('public', 'accounts', 'DROP TABLE x', '')"))
        .hasMessageContaining("permission denied for function record_ddl");
  }
}
