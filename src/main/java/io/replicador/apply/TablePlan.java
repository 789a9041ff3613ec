package io.replicador.apply;

import io.replicador.change.Change;
import io.replicador.change.Relation;
import io.replicador.change.TableName;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * How the changes of one relation are applied to its replica table: the statements and where each
 * of their parameters sits in a change, worked out once per relation rather than per change.
 * Immutable.
 */
final class TablePlan {
  /**
   * Marks the replacement of a row: delete of the old key plus upsert of the new row. Used only
   * where an UPDATE cannot express the change: a key column that is a GENERATED ALWAYS identity on
   * the replica (an UPDATE may only set it to DEFAULT), and, after an UPDATE matched nothing, a row
   * that is missing or whose new key is already taken (a snapshot replaying changes it already
   * holds). The delete fires the replica's ON DELETE actions and DELETE triggers unless
   * session_replication_role is replica; {@link ReplicaSafety} refuses replicas where that would
   * change rows the primary kept.
   */
  static final String REPLACE = "-- replace\n";

  final Relation relation;
  final ReplicaTable table;

  /** GENERATED ALWAYS identity columns of the replica among the relation's columns. */
  final List<String> alwaysIdentity;

  final String upsert;
  final String update;

  /** A key-changing update: see {@link ApplyStatements#keyUpdate}; or {@link #replace}. */
  final String keyChange;

  final String replace;
  final String delete;

  /** Whether a row with the key is there. */
  final String exists;

  final String truncate;
  private final List<String> settable;
  private final List<String> guards;
  private final Map<List<Integer>, Pieced> pieced = new HashMap<>();
  private final int[] keyIndexes;
  private final int[] setIndexes;
  private final int[] guardIndexes;
  private final String[] sequenceNames;
  private final int[] sequenceIndexes;

  TablePlan(Relation relation, ReplicaTable table, String replicaName) throws ApplyException {
    this.relation = relation;
    this.table = table;
    List<String> columns = relation.columns();
    List<String> settable = table.check(relation, replicaName);
    this.settable = settable;
    this.alwaysIdentity = table.alwaysIdentity(relation);
    // identity columns an UPDATE cannot set: matched instead (see ApplyStatements.update)
    List<String> guards = alwaysIdentity.stream().filter(c -> !relation.key().contains(c)).toList();
    this.guards = guards;
    this.upsert = ApplyStatements.upsert(relation.table(), columns, relation.key(), alwaysIdentity);
    this.delete = ApplyStatements.delete(relation.table(), relation.key());
    this.exists = ApplyStatements.exists(relation.table(), relation.key());
    this.replace = REPLACE + delete;
    boolean keySettable = settable.containsAll(relation.key());
    this.update =
        settable.isEmpty()
            ? replace
            : ApplyStatements.update(relation.table(), settable, relation.key(), guards);
    this.keyChange =
        keySettable
            ? ApplyStatements.keyUpdate(
                relation.table(), settable, relation.key(), guards, Map.of())
            : replace;
    this.truncate = ApplyStatements.truncate(relation.table());
    this.keyIndexes = indexes(columns, relation.key());
    this.setIndexes = indexes(columns, settable);
    this.guardIndexes = indexes(columns, guards);
    List<String> names = new ArrayList<>();
    List<String> sequenced = new ArrayList<>();
    for (Map.Entry<String, String> e : table.sequences().entrySet()) {
      if (columns.contains(e.getKey())) {
        sequenced.add(e.getKey());
        names.add(e.getValue());
      }
    }
    this.sequenceNames = names.toArray(String[]::new);
    this.sequenceIndexes = indexes(columns, sequenced);
  }

  /** The statement for the change; equal strings mean changes that batch together. */
  String statement(Change change) {
    return switch (change.op()) {
      case INSERT -> upsert;
      case UPDATE -> keyChanged(change) ? keyChange : update;
      case DELETE -> delete;
      case TRUNCATE -> truncate;
      case VALUE, DDL ->
          throw new IllegalStateException(change.op().wireName() + " has no table statement");
    };
  }

  /**
   * Statements for a change whose {@code chunked} columns take their values from {@link
   * ValuePieces}; their parameters leave those columns out.
   */
  record Pieced(String upsert, String update, String keyChange) {}

  Pieced pieced(List<Integer> chunked) {
    return pieced.computeIfAbsent(
        chunked,
        k -> {
          Map<String, String> expressions = new HashMap<>();
          for (int i : k) {
            String column = relation.columns().get(i);
            expressions.put(column, ValuePieces.expression(i, table.type(column)));
          }
          TableName name = relation.table();
          return new Pieced(
              ApplyStatements.upsert(
                  name, relation.columns(), relation.key(), alwaysIdentity, expressions),
              ApplyStatements.update(name, settable, relation.key(), guards, expressions),
              settable.containsAll(relation.key())
                  ? ApplyStatements.keyUpdate(name, settable, relation.key(), guards, expressions)
                  : null);
        });
  }

  /** The parameters of {@link #upsert} (or a pieced one): the values but the chunked ones. */
  List<String> upsertParameters(Change change) {
    if (change.chunked().isEmpty()) {
      return change.values();
    }
    List<String> out = new ArrayList<>(change.values().size());
    for (int i = 0; i < change.values().size(); i++) {
      if (!change.chunked().contains(i)) {
        out.add(change.values().get(i));
      }
    }
    return out;
  }

  /** The new row's key, as one value for a one-column key (the common case), else a list. */
  Object insertedKey(Change change) {
    List<String> values = change.values();
    if (keyIndexes.length == 1) {
      return values.get(keyIndexes[0]);
    }
    return Arrays.asList(pick(values, keyIndexes));
  }

  boolean keyChanged(Change change) {
    List<String> values = change.values();
    List<String> oldKey = change.key();
    for (int k = 0; k < keyIndexes.length; k++) {
      if (!oldKey.get(k).equals(values.get(keyIndexes[k]))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Parameters of {@link #update}: the settable values, the old key, the guard values; and for
   * {@link #keyChange}, the new key after them.
   */
  List<String> updateParameters(Change change, boolean keyChange) {
    List<String> values = change.values();
    List<String> out =
        new ArrayList<>(setIndexes.length + 2 * keyIndexes.length + guardIndexes.length);
    for (int i : setIndexes) {
      if (!change.chunked().contains(i)) {
        out.add(values.get(i));
      }
    }
    out.addAll(change.key());
    out.addAll(Arrays.asList(pick(values, guardIndexes)));
    if (keyChange) {
      out.addAll(Arrays.asList(pick(values, keyIndexes)));
    }
    return out;
  }

  /** Notes the values the change writes into columns a replica sequence feeds. */
  void noteSequences(Change change, SequenceCatchUp sequences) {
    for (int i = 0; i < sequenceIndexes.length; i++) {
      sequences.note(sequenceNames[i], change.values().get(sequenceIndexes[i]));
    }
  }

  private static String[] pick(List<String> values, int[] indexes) {
    String[] out = new String[indexes.length];
    for (int i = 0; i < indexes.length; i++) {
      out[i] = values.get(indexes[i]);
    }
    return out;
  }

  private static int[] indexes(List<String> columns, List<String> names) {
    int[] out = new int[names.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = columns.indexOf(names.get(i));
    }
    return out;
  }
}
