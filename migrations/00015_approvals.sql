-- +goose Up
-- Approvals: a withdrawal an approval rule holds is recorded as 'pending_approval', its
-- amount locked as for any other, and waits there for approvals_required approvals from
-- distinct admin keys (never the key that created it); a rejection or the wait's expiry
-- fails it and returns the funds.
--
-- Mass payouts: a merchant's batch request records many withdrawals in one transaction;
-- each item carries a reference unique per merchant, and the request keeps what became
-- of every item.
ALTER TABLE withdrawals DROP CONSTRAINT withdrawals_status_check;
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_status_check
    CHECK (status IN ('pending_approval', 'pending', 'processing', 'confirmed', 'failed', 'cancelled')) NOT VALID;
ALTER TABLE withdrawals VALIDATE CONSTRAINT withdrawals_status_check;

ALTER TABLE withdrawals
    -- the address as the whitelist keeps it (lower case where case does not matter), so an
    -- address counts as known however it is written; NULL on withdrawals older than this
    ADD COLUMN normalized_address text,
    -- the API key that created it (NULL on withdrawals older than this)
    ADD COLUMN created_by_key     text,
    -- approvals it needed when it was created (0: none), and why
    ADD COLUMN approvals_required smallint NOT NULL DEFAULT 0 CHECK (approvals_required BETWEEN 0 AND 5),
    ADD COLUMN approval_reason    text CHECK (approval_reason IN ('amount', 'new_address')),
    ADD COLUMN batch_request_id   text,
    ADD COLUMN reference          text CHECK (reference IS NULL OR length(reference) BETWEEN 1 AND 64);

-- Approval rule "new address": an address is known from its first confirmed withdrawal.
CREATE INDEX withdrawals_paid_address_idx ON withdrawals (merchant_id, token, network, normalized_address, confirmed_at)
    WHERE status = 'confirmed';
-- GET /api/admin/approvals (oldest first) and the expiry sweep.
CREATE INDEX withdrawals_awaiting_approval_idx ON withdrawals (created_at, id) WHERE status = 'pending_approval';
-- A batch item's reference is unique per merchant; a batch request lists its items.
CREATE UNIQUE INDEX withdrawals_reference_idx ON withdrawals (merchant_id, reference) WHERE reference IS NOT NULL;
CREATE INDEX withdrawals_batch_request_idx ON withdrawals (batch_request_id, created_at DESC, id DESC)
    WHERE batch_request_id IS NOT NULL;

-- Approval rules per merchant and token (merchant_id NULL: the platform's default for
-- the token; a merchant's own row replaces it whole). A withdrawal is held when its
-- amount is above amount_above, or when its address was first paid (by this merchant,
-- in this token and network) less than new_address_days ago or never.
CREATE TABLE approval_rules (
    merchant_id        text           REFERENCES merchants (id),
    token              text           NOT NULL REFERENCES tokens (symbol),
    amount_above       numeric(38,18) CHECK (amount_above > 0),
    new_address_days   int            CHECK (new_address_days BETWEEN 1 AND 3650),
    approvals_required smallint       NOT NULL DEFAULT 1 CHECK (approvals_required BETWEEN 1 AND 5),
    updated_at         timestamptz    NOT NULL,
    updated_by         text           NOT NULL
);
CREATE UNIQUE INDEX approval_rules_scope_idx ON approval_rules (token, COALESCE(merchant_id, ''));

-- The admins' decisions: one per key and withdrawal. (An expiry is no one's decision:
-- the audit trail records it.)
CREATE TABLE withdrawal_approvals (
    withdrawal_id text        NOT NULL REFERENCES withdrawals (id),
    key_id        text        NOT NULL REFERENCES api_keys (id),
    decision      text        NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason        text        CHECK (reason IS NULL OR length(reason) <= 200),
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (withdrawal_id, key_id)
);

-- The merchant's batch requests. outcomes is the answer to the request, one entry per
-- item in the request's order: {reference, withdrawalId} or {reference, token, network,
-- amount, address, error: {code, message, field}}; replays and the CSV are read from it.
CREATE TABLE withdrawal_batch_requests (
    id              text        PRIMARY KEY,
    merchant_id     text        NOT NULL REFERENCES merchants (id),
    mode            text        NOT NULL CHECK (mode IN ('all_or_nothing', 'partial')),
    idempotency_key text,
    request_hash    bytea,
    items_received  int         NOT NULL CHECK (items_received BETWEEN 1 AND 1000),
    items_created   int         NOT NULL CHECK (items_created BETWEEN 1 AND items_received),
    outcomes        jsonb       NOT NULL,
    created_by_key  text,
    created_at      timestamptz NOT NULL,
    -- set, once, by the transaction that makes its last item final
    completed_at    timestamptz,
    CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
);
CREATE UNIQUE INDEX withdrawal_batch_requests_idempotency_idx ON withdrawal_batch_requests (merchant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX withdrawal_batch_requests_merchant_idx ON withdrawal_batch_requests (merchant_id, created_at DESC, id DESC);
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_batch_request_fk
    FOREIGN KEY (batch_request_id) REFERENCES withdrawal_batch_requests (id);

-- Endpoints subscribed to every event (what an endpoint created without a list gets)
-- receive the two new ones too.
UPDATE webhook_endpoints SET events = events || '["withdrawal.approval_required", "withdrawal_batch.completed"]'
 WHERE events @> '["withdrawal.pending", "withdrawal.processing", "withdrawal.confirmed", "withdrawal.failed", "withdrawal.cancelled"]';

-- +goose StatementBegin
-- approval_hold: whether a withdrawal (merchant, token, network, normalized address,
-- amount, time) must wait for approval, by the rule in force for its merchant and token:
-- one row (approvals required, reason 'amount' or 'new_address') or none. Without a rule
-- it reads only the rules.
CREATE FUNCTION approval_hold(p_merchant text, p_token text, p_network text, p_address text, p_amount numeric, p_at timestamptz)
RETURNS TABLE (approvals smallint, reason text) LANGUAGE sql STABLE AS $$
    SELECT r.approvals_required, CASE WHEN r.amount_above < p_amount THEN 'amount' ELSE 'new_address' END
      FROM (SELECT * FROM approval_rules
             WHERE token = p_token AND (merchant_id = p_merchant OR merchant_id IS NULL)
             ORDER BY merchant_id NULLS LAST LIMIT 1) r
     WHERE r.amount_above < p_amount
        OR r.new_address_days IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM withdrawals w
                            WHERE w.merchant_id = p_merchant AND w.token = p_token AND w.network = p_network
                              AND w.normalized_address = p_address AND w.status = 'confirmed'
                              AND w.confirmed_at <= p_at - make_interval(days => r.new_address_days))
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- batch_incomplete ends a batch request's transaction when an item was not recorded:
-- the request is all or nothing for the items it sends (the caller resends without the
-- ones refused), so nothing of it is ever half-written.
CREATE FUNCTION batch_incomplete(p_batch text, p_expected int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM withdrawals WHERE batch_request_id = p_batch) <> p_expected THEN
        RAISE EXCEPTION 'batch request % was not recorded whole', p_batch USING ERRCODE = 'WB001';
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION batch_incomplete(text, int);
DROP FUNCTION approval_hold(text, text, text, text, numeric, timestamptz);
ALTER TABLE withdrawals DROP CONSTRAINT withdrawals_batch_request_fk;
DROP TABLE withdrawal_batch_requests;
DROP TABLE withdrawal_approvals;
DROP TABLE approval_rules;
ALTER TABLE withdrawals DROP COLUMN reference, DROP COLUMN batch_request_id, DROP COLUMN approval_reason,
    DROP COLUMN approvals_required, DROP COLUMN created_by_key, DROP COLUMN normalized_address;
ALTER TABLE withdrawals DROP CONSTRAINT withdrawals_status_check;
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_status_check
    CHECK (status IN ('pending', 'processing', 'confirmed', 'failed', 'cancelled'));
