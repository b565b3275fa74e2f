-- +goose Up
-- Core schema: merchants, API keys, tokens, double-entry ledger, withdrawals, fees.
-- Ids are application-generated text (prefix + random or time-ordered), never sequences,
-- so the schema can later be sharded by merchant_id (docs/SCALING.md).

CREATE TABLE merchants (
    id         text        PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id           text        PRIMARY KEY,
    merchant_id  text        REFERENCES merchants (id),
    role         text        NOT NULL CHECK (role IN ('merchant', 'admin')),
    name         text        NOT NULL DEFAULT '',
    key_hash     bytea       NOT NULL UNIQUE,
    key_prefix   text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    -- a merchant key belongs to exactly one merchant; an admin key to none
    CHECK ((role = 'merchant') = (merchant_id IS NOT NULL))
);
CREATE INDEX api_keys_merchant_idx ON api_keys (merchant_id);

CREATE TABLE tokens (
    symbol               text           PRIMARY KEY,
    network              text           NOT NULL,
    decimals             int            NOT NULL CHECK (decimals BETWEEN 0 AND 18),
    address_format       text           NOT NULL CHECK (address_format IN ('bitcoin', 'evm')),
    min_withdrawal       numeric(38,18) NOT NULL CHECK (min_withdrawal >= 0),
    enabled              boolean        NOT NULL DEFAULT true,
    confirmation_seconds int            NOT NULL CHECK (confirmation_seconds >= 0)
);

INSERT INTO tokens (symbol, network, decimals, address_format, min_withdrawal, confirmation_seconds) VALUES
    ('BTC',  'bitcoin',  8,  'bitcoin', 0.0001, 3600),
    ('ETH',  'ethereum', 18, 'evm',     0.001,  300),
    ('USDT', 'ethereum', 6,  'evm',     2,      300);

-- Ledger accounts are named by natural keys, so a service can address them without a lookup:
--   merchant:<merchant_id>:available:<token>, merchant:<merchant_id>:pending:<token>,
--   platform:fees:<token>, external:payouts:<token>, external:deposits:<token>
CREATE TABLE ledger_accounts (
    id          text        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('merchant_available', 'merchant_pending',
                                                     'platform_fees', 'external_payouts', 'external_deposits')),
    merchant_id text        REFERENCES merchants (id),
    token       text        NOT NULL REFERENCES tokens (symbol),
    created_at  timestamptz NOT NULL,
    CHECK ((kind LIKE 'merchant_%') = (merchant_id IS NOT NULL))
);

-- Platform-side accounts for the seeded tokens; a migration that adds a token adds its own.
INSERT INTO ledger_accounts (id, kind, merchant_id, token, created_at)
SELECT 'platform:fees:' || symbol, 'platform_fees', NULL, symbol, now() FROM tokens
UNION ALL
SELECT 'external:payouts:' || symbol, 'external_payouts', NULL, symbol, now() FROM tokens
UNION ALL
SELECT 'external:deposits:' || symbol, 'external_deposits', NULL, symbol, now() FROM tokens;

CREATE TABLE ledger_journals (
    id            text        PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('credit', 'withdrawal_lock', 'withdrawal_release', 'withdrawal_settle')),
    merchant_id   text        NOT NULL REFERENCES merchants (id),
    token         text        NOT NULL REFERENCES tokens (symbol),
    withdrawal_id text,
    reference     text,
    created_by    text,
    created_at    timestamptz NOT NULL
);
-- an admin credit reference can be used once per merchant, so a retried credit never pays twice
CREATE UNIQUE INDEX ledger_journals_credit_reference_idx ON ledger_journals (merchant_id, reference) WHERE kind = 'credit';
CREATE INDEX ledger_journals_withdrawal_idx ON ledger_journals (withdrawal_id) WHERE withdrawal_id IS NOT NULL;

-- Append-only. Every journal's entries sum to zero (one token per journal).
CREATE TABLE ledger_entries (
    id         text           PRIMARY KEY,
    journal_id text           NOT NULL REFERENCES ledger_journals (id),
    account_id text           NOT NULL REFERENCES ledger_accounts (id),
    amount     numeric(38,18) NOT NULL CHECK (amount <> 0),
    created_at timestamptz    NOT NULL
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id);
CREATE INDEX ledger_entries_journal_idx ON ledger_entries (journal_id);

-- Materialised balances of the merchant ledger accounts, updated in the same transaction
-- as the entries. The CHECKs make a negative balance impossible whatever the code does.
CREATE TABLE balances (
    merchant_id text           NOT NULL REFERENCES merchants (id),
    token       text           NOT NULL REFERENCES tokens (symbol),
    available   numeric(38,18) NOT NULL DEFAULT 0 CHECK (available >= 0),
    pending     numeric(38,18) NOT NULL DEFAULT 0 CHECK (pending >= 0),
    updated_at  timestamptz    NOT NULL,
    PRIMARY KEY (merchant_id, token)
);

CREATE TABLE withdrawals (
    id                   text           PRIMARY KEY,
    merchant_id          text           NOT NULL REFERENCES merchants (id),
    token                text           NOT NULL REFERENCES tokens (symbol),
    network              text           NOT NULL,
    amount               numeric(38,18) NOT NULL CHECK (amount > 0),
    fee_base             numeric(38,18) NOT NULL CHECK (fee_base >= 0),
    fee_markup_rate      numeric(38,18) NOT NULL CHECK (fee_markup_rate >= 0 AND fee_markup_rate < 1),
    fee_markup_amount    numeric(38,18) NOT NULL CHECK (fee_markup_amount >= 0),
    fee_total            numeric(38,18) NOT NULL CHECK (fee_total >= 0),
    net_amount           numeric(38,18) NOT NULL CHECK (net_amount > 0),
    address              text           NOT NULL,
    status               text           NOT NULL CHECK (status IN ('pending', 'processing', 'confirmed', 'failed', 'cancelled')),
    metadata             jsonb,
    idempotency_key      text,
    request_hash         bytea,
    provider_reference   text,
    tx_hash              text,
    batch_id             text,
    failure_reason       text,
    created_at           timestamptz    NOT NULL,
    updated_at           timestamptz    NOT NULL,
    estimated_completion timestamptz    NOT NULL,
    processing_at        timestamptz,
    confirmed_at         timestamptz,
    failed_at            timestamptz,
    cancelled_at         timestamptz,
    CHECK (amount = fee_total + net_amount),
    CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
);
CREATE UNIQUE INDEX withdrawals_idempotency_idx ON withdrawals (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- GET /api/withdrawals: newest first per merchant
CREATE INDEX withdrawals_merchant_created_idx ON withdrawals (merchant_id, created_at DESC, id DESC);
-- the payout batcher claims the oldest pending withdrawals per token
CREATE INDEX withdrawals_pending_idx ON withdrawals (token, created_at) WHERE status = 'pending';

-- scope is 'default' or a token symbol
CREATE TABLE fee_schedules (
    scope       text           PRIMARY KEY,
    base_fee    numeric(38,18) NOT NULL CHECK (base_fee >= 0),
    markup_rate numeric(38,18) NOT NULL CHECK (markup_rate >= 0 AND markup_rate < 1),
    enabled     boolean        NOT NULL,
    updated_at  timestamptz    NOT NULL,
    updated_by  text           NOT NULL
);

INSERT INTO fee_schedules (scope, base_fee, markup_rate, enabled, updated_at, updated_by) VALUES
    ('default', 1,       0, true, now(), 'seed'),
    ('BTC',     0.00001, 0, true, now(), 'seed'),
    ('ETH',     0.0005,  0, true, now(), 'seed');

-- Audit trail of every fee change: who, when, old and new values.
CREATE TABLE fee_schedule_changes (
    id         text        PRIMARY KEY,
    scope      text        NOT NULL,
    changed_by text        NOT NULL,
    changed_at timestamptz NOT NULL,
    old_value  jsonb,
    new_value  jsonb       NOT NULL
);
CREATE INDEX fee_schedule_changes_changed_at_idx ON fee_schedule_changes (changed_at DESC);

-- +goose Down
DROP TABLE fee_schedule_changes, fee_schedules, withdrawals, balances, ledger_entries,
    ledger_journals, ledger_accounts, tokens, api_keys, merchants;
