-- The reference's tables: the least a withdrawal service must write per withdrawal.
-- A balance row per merchant and token whose CHECKs forbid overdraft, the withdrawal,
-- one ledger row for the lock, and an outbox row for the webhook. Money is
-- numeric(38,18), ids are text, as in the service.
DROP TABLE IF EXISTS ref_outbox, ref_ledger, ref_withdrawals, ref_balances;

CREATE TABLE ref_balances (
    merchant_id text           NOT NULL,
    token       text           NOT NULL,
    available   numeric(38,18) NOT NULL CHECK (available >= 0),
    pending     numeric(38,18) NOT NULL DEFAULT 0 CHECK (pending >= 0),
    updated_at  timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, token)
);

CREATE TABLE ref_withdrawals (
    id              text           PRIMARY KEY,
    merchant_id     text           NOT NULL,
    token           text           NOT NULL,
    amount          numeric(38,18) NOT NULL,
    fee             numeric(38,18) NOT NULL,
    address         text           NOT NULL,
    status          text           NOT NULL,
    metadata        jsonb,
    idempotency_key text           NOT NULL,
    created_at      timestamptz    NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, idempotency_key)
);
CREATE INDEX ref_withdrawals_list_idx ON ref_withdrawals (merchant_id, created_at DESC, id DESC);

CREATE TABLE ref_ledger (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    withdrawal_id text           NOT NULL,
    merchant_id   text           NOT NULL,
    token         text           NOT NULL,
    amount        numeric(38,18) NOT NULL,
    created_at    timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX ref_ledger_merchant_idx ON ref_ledger (merchant_id, token, id);

CREATE TABLE ref_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id text        NOT NULL,
    event       text        NOT NULL,
    body        jsonb       NOT NULL,
    due_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ref_outbox_due_idx ON ref_outbox (due_at);
