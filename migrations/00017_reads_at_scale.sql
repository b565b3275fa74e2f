-- +goose Up
-- Every listing pages newest first on (created_at, id), by offset or by cursor. Each
-- filter merchants and admins use has an index that starts with the filter's columns
-- and then keeps that order, so a page reads about `limit` index entries whatever the
-- history's size. The indexes are ascending, read backwards for newest first: rows
-- arrive in creation order, and an ascending index takes each on its rightmost page
-- (PostgreSQL's fast path, and splits that leave pages full) where a descending one
-- would take it on its leftmost (the plan test, internal/plans, checks each listing's EXPLAIN on a
-- seeded database). Filters combined with one of these are served by the most
-- selective index with the others checked row by row (docs/DECISIONS.md).
CREATE INDEX withdrawals_merchant_status_idx ON withdrawals (merchant_id, status, created_at, id);
CREATE INDEX withdrawals_merchant_token_idx ON withdrawals (merchant_id, token, created_at, id);
CREATE INDEX withdrawals_merchant_network_idx ON withdrawals (merchant_id, network, created_at, id);
-- The admin listing across merchants, whole or by a status (walked newest first: the
-- statuses operators watch are the newest). No index leads with the status alone: the
-- writes that find withdrawals by id and status (a transition, the recorder's checks)
-- would be planned onto it while the table's statistics are young, scanning every
-- withdrawal in that status instead of the few by key.
CREATE INDEX withdrawals_created_idx ON withdrawals (created_at, id);

DROP INDEX payout_batches_status_idx;
CREATE INDEX payout_batches_status_idx ON payout_batches (status, created_at, id);
CREATE INDEX payout_batches_created_idx ON payout_batches (created_at, id);

DROP INDEX webhook_deliveries_endpoint_idx;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (merchant_id, status, created_at, id);
CREATE INDEX webhook_deliveries_type_idx ON webhook_deliveries (merchant_id, event_type, created_at, id);
-- the deliveries of one withdrawal's events (its page in the console)
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

DROP INDEX admin_actions_target_idx;
CREATE INDEX admin_actions_target_idx ON admin_actions (target_type, target_id, created_at, id);

-- Incremental reconciliation. Every ledger entry gets a sequence number when it is
-- written. A check waits until every entry numbered up to the sequence's last value has
-- committed or aborted, then proves the ledger from the last verified checkpoint plus
-- the entries after it, and on success moves the checkpoint to that value
-- (services/ledger/reconcile.go). ledger_checkpoint_sums holds, per account, the sum of
-- its entries numbered up to through_seq.
ALTER TABLE ledger_entries ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX ledger_entries_seq_idx ON ledger_entries (seq);

CREATE TABLE ledger_checkpoint (
    id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
    through_seq bigint      NOT NULL,
    journals    jsonb       NOT NULL, -- journals per token up to through_seq
    verified_at timestamptz NOT NULL,
    full_at     timestamptz NOT NULL  -- the last check that read the whole ledger
);
CREATE TABLE ledger_checkpoint_sums (
    account_id text           PRIMARY KEY REFERENCES ledger_accounts (id),
    total      numeric(38,18) NOT NULL
);

-- +goose Down
DROP TABLE ledger_checkpoint_sums, ledger_checkpoint;
ALTER TABLE ledger_entries DROP COLUMN seq;
DROP INDEX admin_actions_target_idx;
CREATE INDEX admin_actions_target_idx ON admin_actions (target_type, target_id);
DROP INDEX webhook_deliveries_event_idx, webhook_deliveries_type_idx, webhook_deliveries_status_idx, webhook_deliveries_endpoint_idx;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);
DROP INDEX payout_batches_created_idx, payout_batches_status_idx;
CREATE INDEX payout_batches_status_idx ON payout_batches (status, created_at);
DROP INDEX withdrawals_created_idx, withdrawals_merchant_network_idx,
    withdrawals_merchant_token_idx, withdrawals_merchant_status_idx;
