-- +goose Up
-- The last reconciliation that ran to its end, clean or not (the checkpoint moves only
-- on a clean one): what operators alert on (withdrawals_reconciliation_* in /metrics).
-- One row.
CREATE TABLE reconciliation_status (
    id            boolean     PRIMARY KEY DEFAULT true CHECK (id),
    ran_at        timestamptz NOT NULL,
    ok            boolean     NOT NULL,
    full_check    boolean     NOT NULL,
    discrepancies int         NOT NULL,
    last_ok_at    timestamptz -- the last clean one, this or an earlier run
);

-- +goose Down
DROP TABLE reconciliation_status;
