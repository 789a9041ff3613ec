package io.replicador.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Reads the text of one large changelog row from the primary a slice at a time, so the publisher
 * never holds it whole. The server converts the text to UTF-8 once and hands out slices of {@link
 * #SLICE_BYTES} through a cursor; the reader decodes them as they come. Runs on the publisher's
 * connection, inside the transaction that reads the batch; not thread-safe.
 */
public final class LargeRowReader {
  /** Bytes per slice fetched from the primary. */
  static final int SLICE_BYTES = 1 << 20;

  private final Connection connection;

  public LargeRowReader(Connection connection) {
    this.connection = connection;
  }

  /** Which stored text of a changelog row to read. */
  public enum Text {
    NEW,
    OLD
  }

  /**
   * Opens the text; the caller reads it to its end and closes it.
   *
   * @param element the row's place in an entry of several inserted rows (from 1), or 0
   */
  public Reader open(long entryId, long element, Text text) throws SQLException {
    String column =
        text == Text.OLD ? "c.old_row" : element > 0 ? "c.new_rows[" + element + "]" : "c.new_row";
    // OFFSET 0 keeps the subquery whole, so its one conversion serves every slice
    PreparedStatement ps =
        connection.prepareStatement(
            "SELECT g, substring(s.v FROM g::int FOR "
                + SLICE_BYTES
                + ") FROM (SELECT convert_to("
                + column
                + ", 'UTF8') AS v FROM replicador.changelog c WHERE c.id = ? OFFSET 0) s,"
                + " generate_series(1::int8, octet_length(s.v), "
                + SLICE_BYTES
                + ") AS g");
    try {
      ps.setLong(1, entryId);
      ps.setFetchSize(2);
      ResultSet rs = ps.executeQuery();
      return new InputStreamReader(new Slices(ps, rs, entryId), StandardCharsets.UTF_8);
    } catch (SQLException | RuntimeException e) {
      ps.close();
      throw e;
    }
  }

  /** The slices as one stream of bytes, checked to come in order. */
  private static final class Slices extends InputStream {
    private final PreparedStatement statement;
    private final ResultSet rows;
    private final long entryId;
    private byte[] slice = new byte[0];
    private int at;
    private long expected = 1;
    private boolean done;

    Slices(PreparedStatement statement, ResultSet rows, long entryId) {
      this.statement = statement;
      this.rows = rows;
      this.entryId = entryId;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      while (at == slice.length) {
        if (done || !next()) {
          done = true;
          return -1;
        }
      }
      int n = Math.min(len, slice.length - at);
      System.arraycopy(slice, at, b, off, n);
      at += n;
      return n;
    }

    private boolean next() throws IOException {
      try {
        if (!rows.next()) {
          return false;
        }
        if (rows.getLong(1) != expected) {
          throw new IOException(
              "Slices of changelog row "
                  + entryId
                  + " came out of order: "
                  + rows.getLong(1)
                  + " instead of "
                  + expected);
        }
        slice = rows.getBytes(2);
        at = 0;
        expected += slice.length;
        return true;
      } catch (SQLException e) {
        throw new IOException("Cannot read changelog row " + entryId + ": " + e.getMessage(), e);
      }
    }

    @Override
    public void close() throws IOException {
      try {
        statement.close();
      } catch (SQLException e) {
        throw new IOException(e.getMessage(), e);
      }
    }
  }
}
