package io.replicador.it;

import static io.replicador.it.ReplicationFixture.rowsText;
import static io.replicador.testing.Db.exec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicador.cli.Main;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Every kind of value comes out of the replica exactly as it went into the primary, on insert,
 * update and delete: the rows' text forms are compared, not checksums, so a failure shows the value
 * that changed. The primary's writer and the replica's database use unusual session settings, so
 * the test also proves that neither side's defaults leak into the values.
 */
class ValueFidelityIT {
  /** The capture source under test; the Wal subclass runs these tests with the slot. */
  String capture() {
    return "trigger";
  }

  /**
   * Writer settings that change how values print; capture must not depend on them. SET LOCAL in one
   * multi-statement string, so the JDBC driver never sees DateStyle leave ISO.
   */
  private static final String[] ODD_WRITER_SETTINGS = {
    "SET LOCAL datestyle = 'SQL, DMY'",
    "SET LOCAL intervalstyle = 'iso_8601'",
    "SET LOCAL extra_float_digits = -15",
    "SET LOCAL bytea_output = 'escape'",
    "SET LOCAL timezone = 'Pacific/Chatham'"
  };

  private ReplicationFixture fx;
  private String replicaDb;

  @BeforeEach
  void setUp(TestInfo info) {
    fx = new ReplicationFixture(info.getTestMethod().orElseThrow().getName());
    replicaDb = fx.replicaDb("r1");
    // Replica defaults that change how text is read back; the listener must not depend on them.
    exec(
        fx.replicaCluster,
        replicaDb,
        "ALTER DATABASE \"" + replicaDb + "\" SET intervalstyle = 'sql_standard'",
        "ALTER DATABASE \"" + replicaDb + "\" SET timezone = 'America/St_Johns'",
        "ALTER DATABASE \"" + replicaDb + "\" SET xmloption = 'document'",
        "ALTER DATABASE \"" + replicaDb + "\" SET datestyle = 'Postgres, DMY'");
    both("CREATE SCHEMA vals");
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private void both(String... sql) {
    exec(fx.primaryCluster, fx.primaryDb, sql);
    exec(fx.replicaCluster, replicaDb, sql);
  }

  private void onPrimary(String... sql) {
    List<String> all = new ArrayList<>();
    all.add("BEGIN");
    all.addAll(List.of(ODD_WRITER_SETTINGS));
    all.addAll(List.of(sql));
    all.add("COMMIT");
    exec(fx.primaryCluster, fx.primaryDb, String.join(";\n", all));
  }

  private void awaitSameRows(String table) {
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () ->
                assertThat(rowsText(fx.replicaCluster, replicaDb, table, "r.id"))
                    .isEqualTo(rowsText(fx.primaryCluster, fx.primaryDb, table, "r.id")));
  }

  /**
   * Creates {@code vals.TABLE (id int PRIMARY KEY, columns...)} on both sides, replicates it, and
   * compares text forms after inserting the rows (plus one of all NULLs), after rotating every
   * row's values to the next row's (an update of every column), and after deleting every other row.
   */
  private void roundTrip(String table, List<String> columns, List<String> rows) {
    String qualified = "vals." + table;
    both("CREATE TABLE " + qualified + " (id int PRIMARY KEY, " + String.join(", ", columns) + ")");
    assertThat(
            Main.run(
                "install",
                "--capture",
                capture(),
                "--primary",
                fx.primaryUri(),
                "--tables",
                qualified))
        .isZero();
    fx.startListener("r1", Set.of());
    fx.startPublisher();

    List<String> names = columns.stream().map(c -> c.split(" ")[0]).toList();
    List<String> inserts = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      inserts.add("INSERT INTO " + qualified + " VALUES (" + (i + 1) + ", " + rows.get(i) + ")");
    }
    inserts.add(
        "INSERT INTO " + qualified + " (id) VALUES (" + (rows.size() + 1) + ")"); // all NULL
    onPrimary(inserts.toArray(String[]::new));
    String inserted = rowsText(fx.primaryCluster, fx.primaryDb, qualified, "r.id");
    awaitSameRows(qualified);

    int n = rows.size() + 1;
    onPrimary(
        "UPDATE "
            + qualified
            + " t SET "
            + names.stream().map(c -> c + " = s." + c).collect(Collectors.joining(", "))
            + " FROM "
            + qualified
            + " s WHERE s.id = t.id % "
            + n
            + " + 1");
    assertThat(rowsText(fx.primaryCluster, fx.primaryDb, qualified, "r.id"))
        .as("the update changed the values")
        .isNotEqualTo(inserted);
    awaitSameRows(qualified);

    onPrimary("DELETE FROM " + qualified + " WHERE id % 2 = 0");
    awaitSameRows(qualified);
    assertThat(rowsText(fx.replicaCluster, replicaDb, qualified, "r.id"))
        .startsWith((n + 1) / 2 + "\n");
  }

  @Test
  void numbersRoundTripExactly() {
    String bigNumeric = "1234567890".repeat(11) + "." + "0987654321".repeat(3);
    roundTrip(
        "numbers",
        List.of(
            "s smallint",
            "i integer",
            "b bigint",
            "n numeric",
            "nd numeric(12, 4)",
            "r real",
            "d double precision",
            "m money"),
        List.of(
            "-32768, -2147483648, -9223372036854775808, '"
                + bigNumeric
                + "', 0.0001,"
                + " '1.4e-45', '4.9e-324', '-92233720368547758.08'",
            "32767, 2147483647, 9223372036854775807, '-"
                + bigNumeric
                + "', -99999999.9999,"
                + " 'NaN', 'NaN', '92233720368547758.07'",
            "0, 0, 0, 'NaN', 'NaN', 'Infinity', 'Infinity', 0",
            "1, 1, 1, 'Infinity', 'NaN', '-Infinity', '-Infinity', 0.01",
            "2, 2, 2, '-Infinity', 1, '-0', '-0', -0.01",
            "3, 3, 3, '0.1000000000000000000000000000000000000000000000000000', 0,"
                + " '3.4028235e38', '1.7976931348623157e308', 1",
            "4, 4, 4, '1e-1000', 2, '0.1', '0.1', 1000000",
            "5, 5, 5, '-0.000', 3, '1.17549435e-38', '2.2250738585072014e-308', 2",
            "6, 6, 6, '12345678901234567890.12345678901234567890', 4, '3.1415927',"
                + " '2.225073858507201e-308', 3"));
  }

  @Test
  void textBytesAndBooleansRoundTripExactly() {
    StringBuilder everyByte = new StringBuilder("'\\x");
    for (int b = 0; b < 256; b++) {
      everyByte.append(String.format("%02x", b));
    }
    everyByte.append("'::bytea");
    roundTrip(
        "texts",
        List.of("t text", "v varchar(40)", "c char(12)", "by bytea", "ok boolean"),
        List.of(
            "'emoji 😀👍🏽 and flags 🇩🇪', 'é combining é', 'مرحبا', " + everyByte + ", true",
            "E'quotes '' \" and backslash \\\\ tab\\t nl\\n cr\\r end', 'a\\b', 'x\"y''z', '\\x',"
                + " false",
            "'', '', '', '\\x00', true",
            "' leading and trailing  ', ' v ', ' c ', decode('5c2c2228297b7d', 'hex'), false",
            "'NULL', 'null', '()', '\\x5c78', true",
            "'(1,\"2\")', '{a,b}', ',', 'abc'::bytea, false",
            "repeat('long ', 3000) || 'עִבְרִית', 'ünïcødé ∑ ≠ ∞', 'αβγ', '\\xdeadbeef', true"));
  }

  @Test
  void datesTimesAndIntervalsRoundTripExactly() {
    roundTrip(
        "times",
        List.of("d date", "t time", "ttz timetz", "ts timestamp", "tstz timestamptz", "i interval"),
        List.of(
            "'2024-02-29', '23:59:59.999999', '12:34:56.789+05:45', '2024-02-29 23:59:59.999999',"
                + " '2024-02-29 23:59:59.999999+13:45', '1 year -2 mons 3 days -04:05:06.789'",
            "'0044-03-15 BC', '00:00', '00:00-15:59', '0044-03-15 12:00 BC',"
                + " '0044-03-15 12:00:00.000001+00 BC', '-1 days +02:03:04.5'",
            "'infinity', '24:00:00', '24:00:00+15:59', 'infinity', 'infinity',"
                + " '-178000000 years'",
            "'-infinity', '00:00:00.000001', '01:02:03.000004-00:30', '-infinity', '-infinity',"
                + " '178000000 years 11 mons 30 days 23:59:59.999999'",
            "'4713-01-01 BC', '12:00', '12:00+00', '1999-12-31 23:59:59',"
                + " '1850-06-01 12:00:00 Europe/Amsterdam', '0.000001 seconds'",
            "'5874897-12-31', '13:14:15.5', '13:14:15.5+14', '294276-12-31 23:59:59.999999',"
                + " '294276-12-31 23:59:59.999999+00', '-1 days -02:00:00'",
            "'2000-01-01', '06:07:08', '06:07:08-12', '2000-01-01 00:00:00',"
                + " '2000-01-01 00:00:00+00', '-2 mons +3 days -00:00:00.5'"));
  }

  @Test
  void uuidJsonAndXmlRoundTripExactly() {
    roundTrip(
        "docs",
        List.of("u uuid", "j json", "jb jsonb", "x xml"),
        List.of(
            "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',"
                + " '{\"b\" : 1,   \"a\":[1, 2 ], \"b\": \"dup\"}',"
                + " '{\"b\": 1, \"a\": [1, 2.50, 1e3], \"b\": \"dup\"}', '<a x=\"1\">t</a>'",
            "'00000000-0000-0000-0000-000000000000', 'null', 'null',"
                + " 'text only<b>and</b> <!-- c --> fragment'",
            "'ffffffff-ffff-ffff-ffff-ffffffffffff', E'\\n  [ \"\\\\u00e9\", \"é\", null ]\\n',"
                + " '\"\\u00e9 \\\" \\\\ \\n\"', '<?xml version=\"1.0\"?><doc/>'",
            "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12', '\"string\"', '{}', ''",
            "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13}', '{\"nested\": {\"x\": [[]]}}',"
                + " '{\"nested\": {\"x\": [[]], \"n\": 0.00000000000000000001}}',"
                + " '<r><![CDATA[<not markup> & stuff]]></r>'"));
  }

  @Test
  void networkBitSearchGeometryRangeAndLsnTypesRoundTripExactly() {
    roundTrip(
        "misc",
        List.of(
            "ip inet",
            "net cidr",
            "mac macaddr",
            "mac8 macaddr8",
            "b bit(8)",
            "vb varbit",
            "tv tsvector",
            "tq tsquery",
            "pt point",
            "ln line",
            "seg lseg",
            "bx box",
            "pa path",
            "pg polygon",
            "ci circle",
            "ir int4range",
            "nr numrange",
            "tr tstzrange",
            "dr daterange",
            "mr int8multirange",
            "lsn pg_lsn"),
        List.of(
            "'192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',"
                + " B'10100101', B'', 'a fat:1A cat:2B,3 ''it''''s'' \\\\x', 'fat & (rat | !cat) <-> sat:*',"
                + " '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]',"
                + " '((0,0),(1,1),(2,0))', '<(1,2),3>', '[1,10)', '(-1.5,2.25]',"
                + " '[2024-01-01 00:00+00,infinity)', 'empty', '{[1,3), [5,7)}', '16/B374D848'",
            "'::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff:ff:ff',"
                + " B'00000000', B'1', '', '''single''', '(NaN,Infinity)', '{0,1,-1e-300}',"
                + " '[(-1,-1),(1e300,1e-300)]', '(0,0),(0,0)', '((0,0))', '((0,0))', '<(0,0),0>',"
                + " 'empty', '(,)', '(,\"2024-01-01 00:00:00.000001+00\"]', '(,infinity)', '{}',"
                + " '0/0'",
            "'2001:db8::1:0:0:1/64', '::ffff:1.2.3.4/128', '08002b010203', '0800.2b01.0203.0405',"
                + " B'11111111', B'0101010101010101010101010101010101010101', 'é ü 😀:1',"
                + " '!a', '(0.1,-0)', '{0.1,0.2,0.3}', '[(1,2),(3,4)]', '(-1,-1),(1,1)',"
                + " '[(0,0)]', '((1,1),(2,2),(3,1))', '<(0.5,0.5),1e-10>', '[-2147483648,0]',"
                + " '[0,NaN)', 'empty', '[4713-01-01 BC,5874897-12-31)', '{[-9223372036854775808,0]}',"
                + " 'FFFFFFFF/FFFFFFFF'"));
  }

  @Test
  void arraysEnumsDomainsAndCompositesRoundTripExactly() {
    both(
        "CREATE TYPE vals.mood AS ENUM ('sad', 'ok', 'happy 😀', 'with \"quote''s\"')",
        "CREATE DOMAIN vals.posint AS integer CHECK (VALUE > 0)",
        "CREATE DOMAIN vals.email AS text CHECK (VALUE LIKE '%@%')",
        "CREATE TYPE vals.pair AS (label text, amount numeric, at timestamptz, tags text[])");
    roundTrip(
        "shapes",
        List.of(
            "ia int[]",
            "ta text[]",
            "m2 integer[][]",
            "mood vals.mood",
            "moods vals.mood[]",
            "p vals.posint",
            "e vals.email",
            "pr vals.pair",
            "prs vals.pair[]",
            "ja jsonb[]",
            "ba bytea[]"),
        List.of(
            "'{1,NULL,3}', ARRAY['a,b', 'NULL', NULL, '', 'quo\"te', 'back\\slash', '{}'],"
                + " '{{1,2},{3,4}}', 'happy 😀', '{sad,NULL,\"happy 😀\"}', 7, 'a@b',"
                + " ROW('lab\"el, (x)', 1.50, '2024-01-01 00:00+00', ARRAY['x', NULL])::vals.pair,"
                + " ARRAY[ROW('a', NULL, NULL, NULL)::vals.pair, NULL],"
                + " ARRAY['null'::jsonb, '{\"a\": null}', NULL], ARRAY['\\x00ff'::bytea, '\\x']",
            "'{}', '{}', '{{{1},{2}},{{3},{4}}}', 'with \"quote''s\"', '{}', 1, 'x@y',"
                + " ROW(NULL, NULL, NULL, NULL)::vals.pair, '{}', '{}', '{}'",
            "'[0:2]={7,8,9}', '{\"\"}', '{{NULL,NULL},{NULL,NULL}}', 'sad',"
                + " ARRAY['with \"quote''s\"'::vals.mood], 2147483647, '\"quoted\"@x',"
                + " ROW('', 0, 'infinity', '{}')::vals.pair, ARRAY[ROW('', 0, NULL, '{NULL}')]::vals.pair[],"
                + " ARRAY['[]'::jsonb], ARRAY[NULL]::bytea[]"));
  }
}
