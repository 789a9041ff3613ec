package io.replicador.schema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RecordTextReaderTest {
  /** The fields as {@link RecordText} returns them, read through the stream in small pieces. */
  private static List<String> read(String text, int bufferChars) throws Exception {
    List<String> fields = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    int count =
        RecordTextReader.read(
            new StringReader(text),
            new RecordTextReader.FieldSink() {
              @Override
              public void chars(int field, char[] chars, int offset, int length) {
                assertThat(field).isEqualTo(fields.size());
                current.append(chars, offset, length);
              }

              @Override
              public void end(int field, boolean sqlNull) {
                assertThat(field).isEqualTo(fields.size());
                fields.add(sqlNull ? null : current.toString());
                current.setLength(0);
              }
            },
            bufferChars);
    assertThat(count).isEqualTo(fields.size());
    return fields;
  }

  @Test
  void readsWhatRecordTextReads() throws Exception {
    for (String text :
        List.of(
            "(1,abc,2.5)",
            "(1,,3)",
            "(,)",
            "(1,)",
            "(\"\",x)",
            "(x,\"\")",
            "(\"x\"\"y\")",
            "(\"\"\"\")",
            "(\"a\\\\b\",\"c\\\"d\")",
            "(\"a,b\",\"(x)\")",
            "(\"\"\"\",\"\")")) {
      for (int buffer : new int[] {1, 2, 3, 64}) {
        assertThat(read(text, buffer)).as(text + " by " + buffer).isEqualTo(RecordText.parse(text));
      }
    }
  }

  @Test
  void readsRandomRowsAsRecordTextDoes() throws Exception {
    Random random = new Random(17);
    String alphabet = "ab,\"\\() é€\n";
    for (int round = 0; round < 2000; round++) {
      List<String> values = new ArrayList<>();
      int n = 1 + random.nextInt(5);
      for (int i = 0; i < n; i++) {
        if (random.nextInt(6) == 0) {
          values.add(null);
          continue;
        }
        StringBuilder v = new StringBuilder();
        int length = random.nextInt(12);
        for (int k = 0; k < length; k++) {
          v.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        values.add(v.toString());
      }
      String text = recordOut(values);
      assertThat(read(text, 1 + random.nextInt(4))).as(text).isEqualTo(values);
    }
  }

  /** What PostgreSQL's record_out prints for these values. */
  private static String recordOut(List<String> values) {
    StringBuilder out = new StringBuilder("(");
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        out.append(',');
      }
      String v = values.get(i);
      if (v == null) {
        continue;
      }
      boolean quote = v.isEmpty() || v.chars().anyMatch(c -> "\",\\() \n".indexOf(c) >= 0);
      if (quote) {
        out.append('"');
      }
      for (char c : v.toCharArray()) {
        if (c == '"' || c == '\\') {
          out.append(c);
        }
        out.append(c);
      }
      if (quote) {
        out.append('"');
      }
    }
    return out.append(')').toString();
  }

  @Test
  void refusesWhatIsNotARowLiteral() {
    assertThatThrownBy(() -> read("1,2)", 4)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> read("(1,2", 4)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> read("(\"1,2)", 4)).hasMessageContaining("unclosed quote");
  }
}
