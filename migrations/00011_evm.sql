-- +goose Up
-- The Ethereum rail's books. A withdrawal paid on an EVM chain gets one nonce of the hot
-- wallet (evm_payments: the nonce is the idempotency key) and one or more signed
-- transactions with that nonce (evm_transactions: the first, then fee-bumped
-- replacements), each stored before it is first broadcast, so a retry or a restart
-- re-broadcasts a stored transaction and never signs a new payment.
CREATE TABLE evm_nonces (
    chain_id   bigint NOT NULL,
    sender     text   NOT NULL,
    next_nonce bigint NOT NULL CHECK (next_nonce >= 0),
    PRIMARY KEY (chain_id, sender)
);

CREATE TABLE evm_payments (
    withdrawal_id text        PRIMARY KEY,
    batch_id      text        NOT NULL,
    chain_id      bigint      NOT NULL,
    sender        text        NOT NULL,
    nonce         bigint      NOT NULL,
    created_at    timestamptz NOT NULL,
    UNIQUE (chain_id, sender, nonce)
);
CREATE INDEX evm_payments_batch_idx ON evm_payments (batch_id);

CREATE TABLE evm_transactions (
    hash                     text           PRIMARY KEY,
    withdrawal_id            text           NOT NULL REFERENCES evm_payments (withdrawal_id),
    raw                      bytea          NOT NULL,
    max_fee_per_gas          numeric(78, 0) NOT NULL,
    max_priority_fee_per_gas numeric(78, 0) NOT NULL,
    created_at               timestamptz    NOT NULL
);
CREATE INDEX evm_transactions_withdrawal_idx ON evm_transactions (withdrawal_id, created_at);

-- +goose Down
DROP TABLE evm_transactions, evm_payments, evm_nonces;
