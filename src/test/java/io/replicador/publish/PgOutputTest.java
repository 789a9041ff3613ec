package io.replicador.publish;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicador.publish.PgOutput.Value.Kind;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PgOutputTest {
  /** Writes pgoutput's wire format: network byte order, C strings. */
  private static final class Wire {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final DataOutputStream out = new DataOutputStream(bytes);

    Wire tag(char c) throws IOException {
      out.writeByte(c);
      return this;
    }

    Wire i8(int v) throws IOException {
      out.writeByte(v);
      return this;
    }

    Wire i16(int v) throws IOException {
      out.writeShort(v);
      return this;
    }

    Wire i32(int v) throws IOException {
      out.writeInt(v);
      return this;
    }

    Wire i64(long v) throws IOException {
      out.writeLong(v);
      return this;
    }

    Wire cstring(String s) throws IOException {
      out.write(s.getBytes(StandardCharsets.UTF_8));
      out.writeByte(0);
      return this;
    }

    Wire text(String s) throws IOException {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      out.writeByte('t');
      out.writeInt(b.length);
      out.write(b);
      return this;
    }

    PgOutput.Message decode() {
      return PgOutput.decode(ByteBuffer.wrap(bytes.toByteArray()));
    }
  }

  @Test
  void beginAndCommitGiveTheTransactionAndWhereItsCommitEnds() throws IOException {
    PgOutput.Begin b =
        (PgOutput.Begin) new Wire().tag('B').i64(0x1_0000_0010L).i64(12345).i32(-2).decode();
    assertThat(b.finalLsn()).isEqualTo(0x1_0000_0010L);
    assertThat(b.xid()).as("unsigned 32-bit").isEqualTo(4294967294L);
    PgOutput.Commit c =
        (PgOutput.Commit) new Wire().tag('C').i8(0).i64(100).i64(148).i64(1).decode();
    assertThat(c.commitLsn()).isEqualTo(100);
    assertThat(c.endLsn()).isEqualTo(148);
  }

  @Test
  void relationsNameColumnsWithTheirKeyFlags() throws IOException {
    PgOutput.RelationMessage r =
        (PgOutput.RelationMessage)
            new Wire()
                .tag('R')
                .i32(16384)
                .cstring("Sales Data")
                .cstring("Odd \"Table\"")
                .i8('d')
                .i16(2)
                .i8(1)
                .cstring("id")
                .i32(23)
                .i32(-1)
                .i8(0)
                .cstring("név")
                .i32(25)
                .i32(-1)
                .decode();
    assertThat(r.schema()).isEqualTo("Sales Data");
    assertThat(r.name()).isEqualTo("Odd \"Table\"");
    assertThat(r.columns())
        .containsExactly(
            new PgOutput.Column("id", 23, true), new PgOutput.Column("név", 25, false));
    PgOutput.RelationMessage catalog =
        (PgOutput.RelationMessage)
            new Wire().tag('R').i32(1).cstring("").cstring("t").i8('d').i16(0).decode();
    assertThat(catalog.schema()).as("pgoutput leaves pg_catalog unnamed").isEqualTo("pg_catalog");
  }

  @Test
  void updatesCarryTheOldKeyOnlyWhenSentAndMarkUnchangedToastedValues() throws IOException {
    PgOutput.Update plain =
        (PgOutput.Update)
            new Wire().tag('U').i32(7).tag('N').i16(3).text("1").tag('n').tag('u').decode();
    assertThat(plain.oldTuple()).isNull();
    assertThat(plain.newTuple())
        .extracting(PgOutput.Value::kind)
        .containsExactly(Kind.TEXT, Kind.NULL, Kind.UNCHANGED);
    assertThat(plain.newTuple().get(0).string()).isEqualTo("1");
    PgOutput.Update keyChange =
        (PgOutput.Update)
            new Wire().tag('U').i32(7).tag('K').i16(1).text("1").tag('N').i16(1).text("2").decode();
    assertThat(keyChange.oldTuple().get(0).string()).isEqualTo("1");
    assertThat(keyChange.newTuple().get(0).string()).isEqualTo("2");
  }

  @Test
  void insertsDeletesTruncatesAndMessages() throws IOException {
    PgOutput.Insert i =
        (PgOutput.Insert) new Wire().tag('I').i32(7).tag('N').i16(1).text("é'\\,").decode();
    assertThat(i.newTuple().get(0).string()).isEqualTo("é'\\,");
    PgOutput.Delete d =
        (PgOutput.Delete) new Wire().tag('D').i32(7).tag('K').i16(1).text("9").decode();
    assertThat(d.oldTuple().get(0).string()).isEqualTo("9");
    PgOutput.Truncate t =
        (PgOutput.Truncate) new Wire().tag('T').i32(2).i8(1).i32(7).i32(8).decode();
    assertThat(t.relids()).containsExactly(7, 8);
    PgOutput.LogicalMessage m =
        (PgOutput.LogicalMessage)
            new Wire()
                .tag('M')
                .i8(1)
                .i64(500)
                .cstring("replicador")
                .i32(3)
                .i8('e')
                .i8('n')
                .i8('d')
                .decode();
    assertThat(m).isEqualTo(new PgOutput.LogicalMessage(true, 500, "replicador", "end"));
    assertThat(new Wire().tag('Y').decode()).isInstanceOf(PgOutput.Ignored.class);
  }

  @Test
  void somethingElseIsRefusedNamingThePlugin() {
    assertThatThrownBy(() -> new Wire().tag('Z').decode())
        .hasMessageContaining("is the slot's plugin pgoutput?");
  }

  @Test
  void aThirtyTwoBitTransactionIdTakesTheEpochItWasGivenOutIn() {
    long epoch3 = 3L << 32;
    assertThat(WalSource.fullXid(1000, epoch3 + 5000)).isEqualTo(epoch3 + 1000);
    // given out before the wrap into epoch 3
    assertThat(WalSource.fullXid(0xffff_fff0L, epoch3 + 5)).isEqualTo(epoch3 - 16);
    assertThat(WalSource.fullXid(5000, epoch3 + 5000))
        .as("not yet given out")
        .isEqualTo(epoch3 - (1L << 32) + 5000);
  }
}
