-- +goose Up
-- Hardening: an append-only audit trail of every admin action, withdrawal counts kept in
-- the transactions that change them, at most one attempt in flight per webhook delivery,
-- manual resolutions counted on their batch, and the sandbox's fault switch.

-- +goose StatementBegin
-- forbid_change makes a table append-only whatever the code or an operator's SQL does:
-- rows can be inserted, never updated, deleted or truncated.
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

-- The audit trail: who (an API key id, or "cli:<user>"), what, when, on what, details.
-- Fee schedule changes, kept apart until now, join it: one trail to read and to protect.
INSERT INTO admin_actions (id, actor, action, target_type, target_id, details, created_at)
SELECT 'act_' || substr(id, 5), changed_by, 'fee_schedule.set', 'fee_schedule', scope,
       jsonb_build_object('old', old_value, 'new', new_value), changed_at
  FROM fee_schedule_changes;
DROP TABLE fee_schedule_changes;
CREATE INDEX admin_actions_created_idx ON admin_actions (created_at DESC, id DESC);
CREATE INDEX admin_actions_action_idx ON admin_actions (action, created_at DESC, id DESC);
CREATE INDEX admin_actions_actor_idx ON admin_actions (actor, created_at DESC, id DESC);

CREATE TRIGGER admin_actions_append_only BEFORE UPDATE OR DELETE ON admin_actions
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER admin_actions_no_truncate BEFORE TRUNCATE ON admin_actions
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
-- The ledger has always been append-only by convention; now the database says so.
CREATE TRIGGER ledger_journals_append_only BEFORE UPDATE OR DELETE ON ledger_journals
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER ledger_journals_no_truncate BEFORE TRUNCATE ON ledger_journals
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Withdrawals per merchant, token, network and status, kept by the statements that
-- create withdrawals and change their status, in their own transactions
-- (services/withdrawals/counts.go), so /metrics and listings read counts instead of
-- counting the history. Reconciliation proves them exact.
CREATE TABLE withdrawal_counts (
    merchant_id text   NOT NULL,
    token       text   NOT NULL,
    network     text   NOT NULL,
    status      text   NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (merchant_id, token, network, status)
);
INSERT INTO withdrawal_counts (merchant_id, token, network, status, n)
SELECT merchant_id, token, network, status, count(*) FROM withdrawals GROUP BY 1, 2, 3, 4;

-- A delivery attempt holds a lease while it is in flight, owned by its River job: any
-- other job for the same delivery (a rescued one, one of an older release) finds it
-- taken and waits; the owner's own next attempt takes it again even when a lost
-- connection kept the last attempt from ending it.
ALTER TABLE webhook_deliveries ADD COLUMN lease_until timestamptz, ADD COLUMN lease_job bigint;

-- A batch some of whose withdrawals an admin settled by hand is never resubmitted: the
-- provider could pay an item whose funds were already released.
ALTER TABLE payout_batches ADD COLUMN manual_resolutions int NOT NULL DEFAULT 0;

-- The sandbox's fault, switchable while the service runs (PUT /api/admin/sandbox), so
-- an incident can be rehearsed without a restart. One row.
CREATE TABLE sandbox_settings (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    fault      text        NOT NULL DEFAULT '' CHECK (fault IN ('', 'timeout_after_accept', 'unavailable', 'stall')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text        NOT NULL DEFAULT 'migration'
);
INSERT INTO sandbox_settings DEFAULT VALUES;

-- +goose Down
DROP TABLE sandbox_settings;
ALTER TABLE payout_batches DROP COLUMN manual_resolutions;
ALTER TABLE webhook_deliveries DROP COLUMN lease_until, DROP COLUMN lease_job;
DROP TABLE withdrawal_counts;
DROP TRIGGER ledger_entries_no_truncate ON ledger_entries;
DROP TRIGGER ledger_entries_append_only ON ledger_entries;
DROP TRIGGER ledger_journals_no_truncate ON ledger_journals;
DROP TRIGGER ledger_journals_append_only ON ledger_journals;
DROP TRIGGER admin_actions_no_truncate ON admin_actions;
DROP TRIGGER admin_actions_append_only ON admin_actions;
DROP INDEX admin_actions_actor_idx, admin_actions_action_idx, admin_actions_created_idx;
CREATE TABLE fee_schedule_changes (
    id         text        PRIMARY KEY,
    scope      text        NOT NULL,
    changed_by text        NOT NULL,
    changed_at timestamptz NOT NULL,
    old_value  jsonb,
    new_value  jsonb       NOT NULL
);
DROP FUNCTION forbid_change();
