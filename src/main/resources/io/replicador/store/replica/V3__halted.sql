-- Why a listener stopped applying (a position that is not the next one, a message it cannot
-- read), for status; deleted when it applies again.
CREATE TABLE IF NOT EXISTS replicador.halted (
    consumer  text PRIMARY KEY,
    reason    text NOT NULL,
    halted_at timestamptz NOT NULL DEFAULT now()
);
