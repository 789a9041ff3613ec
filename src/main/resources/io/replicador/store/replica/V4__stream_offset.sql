-- Where a replica reading the exchange's stream (--queue-type stream) is: the offset of the last
-- message it processed, saved in the transaction that applied it, so a restarted listener resumes
-- after it with nothing lost or applied twice.
CREATE TABLE IF NOT EXISTS replicador.stream_offset (
    consumer     text NOT NULL,
    stream       text NOT NULL,
    last_offset  bigint NOT NULL,
    saved_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream)
);
