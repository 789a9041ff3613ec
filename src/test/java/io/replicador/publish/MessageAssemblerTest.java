package io.replicador.publish;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.change.Change;
import io.replicador.change.ChangeMessage;
import io.replicador.change.Operation;
import io.replicador.change.Relation;
import io.replicador.change.SourceTransaction;
import io.replicador.change.TableName;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MessageAssemblerTest {
  private static final Relation T =
      new Relation(TableName.of("public", "t"), List.of("id"), List.of("id"));
  private static final long SMALL = 10;
  private static final long NO_BYTE_LIMIT = Long.MAX_VALUE / 2;

  private final List<ChangeMessage> sent = new ArrayList<>();

  private MessageAssembler assembler(long firstPosition, int maxChanges, long maxBytes) {
    return new MessageAssembler("src", firstPosition, maxChanges, maxBytes, sent::add);
  }

  private static Change change(String id) {
    return new Change(Operation.INSERT, T, List.of(id), List.of());
  }

  /** Adds {@code count} changes for {@code txid}, with ids txid-0, txid-1, ... */
  private static void addTx(MessageAssembler a, String txid, int count) throws Exception {
    for (int i = 0; i < count; i++) {
      a.add(txid, change(txid + "-" + i), SMALL);
    }
  }

  private List<SourceTransaction> allTransactions() {
    return sent.stream().flatMap(m -> m.transactions().stream()).toList();
  }

  private static List<String> ids(SourceTransaction tx) {
    return tx.changes().stream().map(c -> c.values().get(0)).toList();
  }

  @Test
  void packsSmallTransactionsIntoOneMessage() throws Exception {
    MessageAssembler a = assembler(100, 10, NO_BYTE_LIMIT);
    addTx(a, "a", 2);
    addTx(a, "b", 1);
    addTx(a, "c", 3);

    long last = a.finish();

    assertThat(sent).hasSize(1);
    ChangeMessage m = sent.get(0);
    assertThat(m.source()).isEqualTo("src");
    assertThat(m.transactions()).extracting(SourceTransaction::xid).containsExactly("a", "b", "c");
    assertThat(m.transactions())
        .extracting(SourceTransaction::position)
        .containsExactly(100L, 101L, 102L);
    assertThat(m.transactions()).allMatch(SourceTransaction::whole);
    assertThat(ids(m.transactions().get(2))).containsExactly("c-0", "c-1", "c-2");
    assertThat(last).isEqualTo(102);
  }

  @Test
  void neverPutsMoreThanMaxChangesInAMessageOfWholeTransactions() throws Exception {
    MessageAssembler a = assembler(1, 4, NO_BYTE_LIMIT);
    addTx(a, "a", 2);
    addTx(a, "b", 1);
    addTx(a, "c", 3);
    addTx(a, "d", 2);
    a.finish();

    assertThat(sent)
        .allSatisfy(
            m ->
                assertThat(m.transactions().stream().mapToInt(t -> t.changes().size()).sum())
                    .isLessThanOrEqualTo(4));
    assertThat(allTransactions())
        .extracting(SourceTransaction::xid)
        .containsExactly("a", "b", "c", "d");
    assertThat(allTransactions()).allMatch(SourceTransaction::whole);
  }

  @Test
  void splitsLargeTransactionIntoNumberedPartsEachInItsOwnMessage() throws Exception {
    MessageAssembler a = assembler(10, 3, NO_BYTE_LIMIT);
    addTx(a, "small", 1);
    addTx(a, "big", 8);
    addTx(a, "after", 1);

    long last = a.finish();

    List<SourceTransaction> big =
        allTransactions().stream().filter(t -> t.xid().equals("big")).toList();
    assertThat(big).extracting(SourceTransaction::part).containsExactly(0, 1, 2);
    assertThat(big).extracting(SourceTransaction::last).containsExactly(false, false, true);
    assertThat(big).extracting(SourceTransaction::position).containsOnly(11L);
    assertThat(big.stream().flatMap(t -> ids(t).stream()).toList())
        .containsExactly("big-0", "big-1", "big-2", "big-3", "big-4", "big-5", "big-6", "big-7");
    assertThat(big).allSatisfy(t -> assertThat(t.changes()).hasSizeLessThanOrEqualTo(3));

    // a message holding a part holds nothing else
    for (ChangeMessage m : sent) {
      if (m.transactions().stream().anyMatch(t -> !t.whole())) {
        assertThat(m.transactions()).hasSize(1);
      }
    }
    assertThat(allTransactions())
        .extracting(SourceTransaction::xid)
        .containsExactly("small", "big", "big", "big", "after");
    assertThat(allTransactions())
        .extracting(SourceTransaction::position)
        .containsExactly(10L, 11L, 11L, 11L, 12L);
    assertThat(last).isEqualTo(12);
  }

  @Test
  void sendsEarlierTransactionsBeforeTheFirstPartOfALargeOne() throws Exception {
    MessageAssembler a = assembler(1, 2, NO_BYTE_LIMIT);
    addTx(a, "a", 1);
    addTx(a, "big", 2);

    // the message with "a" must be on its way before any part of "big"
    assertThat(sent).hasSize(2);
    assertThat(sent.get(0).transactions()).extracting(SourceTransaction::xid).containsExactly("a");
    assertThat(sent.get(1).transactions().get(0).part()).isZero();
    assertThat(sent.get(1).transactions().get(0).last()).isFalse();

    a.finish();
    SourceTransaction end = sent.get(sent.size() - 1).transactions().get(0);
    assertThat(end.xid()).isEqualTo("big");
    assertThat(end.last()).isTrue();
    assertThat(end.part()).isEqualTo(1);
  }

  @Test
  void splitsOnByteLimitToo() throws Exception {
    MessageAssembler a = assembler(1, 1000, 25);
    addTx(a, "big", 5); // 10 bytes each: parts of 3 changes (30 >= 25), then 2

    a.finish();

    assertThat(allTransactions()).extracting(SourceTransaction::part).containsExactly(0, 1);
    assertThat(allTransactions()).extracting(t -> t.changes().size()).containsExactly(3, 2);
    assertThat(allTransactions()).extracting(SourceTransaction::last).containsExactly(false, true);
  }

  @Test
  void positionsAreConsecutiveAcrossManyMessages() throws Exception {
    MessageAssembler a = assembler(500, 3, NO_BYTE_LIMIT);
    for (int i = 0; i < 20; i++) {
      addTx(a, "tx" + i, 1 + i % 5);
    }
    long last = a.finish();

    List<Long> distinct =
        allTransactions().stream().map(SourceTransaction::position).distinct().toList();
    assertThat(distinct).hasSize(20);
    for (int i = 0; i < distinct.size(); i++) {
      assertThat(distinct.get(i)).isEqualTo(500L + i);
    }
    assertThat(last).isEqualTo(519);
    assertThat(allTransactions().stream().filter(SourceTransaction::last).count()).isEqualTo(20);
  }

  @Test
  void finishWithoutChangesSendsNothingAndReturnsPositionBeforeFirst() throws Exception {
    MessageAssembler a = assembler(7, 3, NO_BYTE_LIMIT);

    assertThat(a.finish()).isEqualTo(6);
    assertThat(sent).isEmpty();
  }

  @Test
  void sentMessagesAreNotChangedByLaterAdds() throws Exception {
    MessageAssembler a = assembler(1, 2, NO_BYTE_LIMIT);
    addTx(a, "big", 3);
    List<String> firstPart = ids(sent.get(0).transactions().get(0));
    addTx(a, "next", 1);
    a.finish();

    assertThat(firstPart).containsExactly("big-0", "big-1");
    assertThat(ids(sent.get(0).transactions().get(0))).containsExactly("big-0", "big-1");
  }
}
