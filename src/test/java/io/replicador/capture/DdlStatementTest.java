package io.replicador.capture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.capture.DdlStatement.Kind;
import io.replicador.capture.DdlStatement.Name;
import io.replicador.config.ConfigException;
import org.junit.jupiter.api.Test;

class DdlStatementTest {

  @Test
  void readsTheTableOfEachKindItRecords() {
    assertThat(DdlStatement.classify("ALTER TABLE public.users ADD COLUMN note text DEFAULT 'x'"))
        .isEqualTo(new DdlStatement(Kind.ALTER_TABLE, new Name("public", "users"), null));
    assertThat(DdlStatement.classify("alter table if exists only Users drop column bio;"))
        .isEqualTo(new DdlStatement(Kind.ALTER_TABLE, new Name(null, "users"), null));
    assertThat(DdlStatement.classify("CREATE TABLE s.t (id int PRIMARY KEY, v text)"))
        .isEqualTo(new DdlStatement(Kind.CREATE_TABLE, new Name("s", "t"), null));
    assertThat(DdlStatement.classify("create unlogged table if not exists t (id int primary key)"))
        .isEqualTo(new DdlStatement(Kind.CREATE_TABLE, new Name(null, "t"), null));
    assertThat(DdlStatement.classify("DROP TABLE IF EXISTS app.orders CASCADE"))
        .isEqualTo(new DdlStatement(Kind.DROP_TABLE, new Name("app", "orders"), null));
    assertThat(DdlStatement.classify("CREATE UNIQUE INDEX ON ONLY public.t (lower(v))"))
        .isEqualTo(new DdlStatement(Kind.CREATE_INDEX, new Name("public", "t"), null));
    assertThat(DdlStatement.classify("create index t_v on t using btree (v) where (v <> 'on')"))
        .isEqualTo(new DdlStatement(Kind.CREATE_INDEX, new Name(null, "t"), null));
  }

  @Test
  void keepsQuotedNamesAsSpelledAndFoldsOthers() {
    DdlStatement d =
        DdlStatement.classify(
            "ALTER TABLE \"Sales Data\".\"Odd \"\"Table\"\" Name\" ADD \"select\" int");
    assertThat(d.target()).isEqualTo(new Name("Sales Data", "Odd \"Table\" Name"));
    assertThat(DdlStatement.classify("ALTER TABLE MySchema.MyTable ADD c int").target())
        .isEqualTo(new Name("myschema", "mytable"));
  }

  @Test
  void seesATableRenameButNotAColumnRename() {
    assertThat(DdlStatement.classify("ALTER TABLE t RENAME TO \"New T\"").renamedTo())
        .isEqualTo("New T");
    assertThat(DdlStatement.classify("ALTER TABLE t RENAME COLUMN a TO b").renamedTo()).isNull();
    assertThat(DdlStatement.classify("ALTER TABLE t RENAME a TO b").renamedTo()).isNull();
  }

  @Test
  void commentsAndStringsDoNotCount() {
    assertThat(
            DdlStatement.classify(
                    "-- drop table x;\n/* create index; */ ALTER TABLE t ADD c text DEFAULT"
                        + " 'a;b' ; ")
                .kind())
        .isEqualTo(Kind.ALTER_TABLE);
    assertThat(DdlStatement.classify("ALTER TABLE t ADD c text DEFAULT $$x; DROP TABLE y$$").kind())
        .isEqualTo(Kind.ALTER_TABLE);
  }

  @Test
  void refusesWhatItDoesNotRecordSayingWhy() {
    assertThatThrownBy(() -> DdlStatement.classify("ALTER TABLE t ADD c int; DROP TABLE u"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("one statement at a time");
    assertThatThrownBy(() -> DdlStatement.classify("CREATE VIEW v AS SELECT 1"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("CREATE VIEW is not a schema change ddl records");
    assertThatThrownBy(() -> DdlStatement.classify("TRUNCATE t"))
        .hasMessageContaining("TRUNCATE is not a schema change ddl records");
    assertThatThrownBy(() -> DdlStatement.classify("CREATE INDEX CONCURRENTLY i ON t (v)"))
        .hasMessageContaining("leave out CONCURRENTLY");
    assertThatThrownBy(() -> DdlStatement.classify("CREATE TABLE t2 AS SELECT * FROM t"))
        .hasMessageContaining("CREATE TABLE ... AS");
    assertThatThrownBy(() -> DdlStatement.classify("CREATE TEMP TABLE t (id int)"))
        .hasMessageContaining("temporary");
    assertThatThrownBy(() -> DdlStatement.classify("DROP TABLE a, b"))
        .hasMessageContaining("one table at a time");
    assertThatThrownBy(() -> DdlStatement.classify("ALTER TABLE t SET SCHEMA other"))
        .hasMessageContaining("SET SCHEMA");
    assertThatThrownBy(() -> DdlStatement.classify("  ;  ")).hasMessageContaining("empty");
    assertThatThrownBy(() -> DdlStatement.classify("ALTER TABLE \"t ADD c int"))
        .hasMessageContaining("not closed");
  }

  @Test
  void aCreateTableAsColumnDefaultIsNotCreateTableAs() {
    // "as" inside the column list (a generated column) is not CREATE TABLE ... AS
    assertThat(
            DdlStatement.classify(
                    "CREATE TABLE t (id int PRIMARY KEY, d int GENERATED ALWAYS AS (id * 2) STORED)")
                .kind())
        .isEqualTo(Kind.CREATE_TABLE);
  }
}
