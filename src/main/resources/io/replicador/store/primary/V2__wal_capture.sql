-- Capture from the WAL (install --capture wal): the logical replication slot and publication that
-- replace the triggers, and how far the publisher has shipped. A row here means the primary's
-- tables are captured from the WAL; positions still count in replicador.publisher.next_position,
-- so a switch between the two sources continues the same gap-free sequence.
CREATE TABLE IF NOT EXISTS replicador.wal_capture (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    slot_name        text NOT NULL,
    publication_name text NOT NULL,
    -- the end of the last shipped transaction's commit: a transaction that ends at or before it
    -- was shipped (with the positions up to next_position - 1), whatever the slot replays
    shipped_lsn      pg_lsn NOT NULL DEFAULT '0/0',
    shipped_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- Set by install --capture trigger in the transaction that moves the tables back to triggers:
-- the publisher ships the slot up to that transaction, then drops slot, publication and this row.
ALTER TABLE replicador.wal_capture ADD COLUMN IF NOT EXISTS ending boolean NOT NULL DEFAULT false;
