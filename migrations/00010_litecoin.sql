-- +goose Up
-- Litecoin joins the catalog, so the Bitcoin Core rail can be proven on a Litecoin Core
-- regtest node. Each token also gets the smallest output its chain relays (dust_limit):
-- a withdrawal whose net amount is below it is refused at creation, not at payout.
-- The limits are the largest over the address types the token accepts (pay-to-pubkey-hash):
-- Bitcoin Core's 546 satoshis, Litecoin Core's 5,460 litoshis (its dust relay fee is ten
-- times Bitcoin's).
ALTER TABLE tokens ADD COLUMN dust_limit numeric(38,18) NOT NULL DEFAULT 0 CHECK (dust_limit >= 0);
ALTER TABLE tokens DROP CONSTRAINT tokens_address_format_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_address_format_check CHECK (address_format IN ('bitcoin', 'litecoin', 'evm'));
UPDATE tokens SET dust_limit = 0.00000546 WHERE symbol = 'BTC';

INSERT INTO tokens (symbol, network, decimals, address_format, min_withdrawal, confirmation_seconds, dust_limit)
VALUES ('LTC', 'litecoin', 8, 'litecoin', 0.001, 900, 0.0000546);
INSERT INTO fee_schedules (scope, base_fee, markup_rate, enabled, updated_at, updated_by)
VALUES ('LTC', 0.0001, 0, true, now(), 'seed');
INSERT INTO ledger_accounts (id, kind, merchant_id, token, created_at) VALUES
    ('platform:fees:LTC', 'platform_fees', NULL, 'LTC', now()),
    ('external:payouts:LTC', 'external_payouts', NULL, 'LTC', now()),
    ('external:deposits:LTC', 'external_deposits', NULL, 'LTC', now());

-- +goose Down
-- Refused while any LTC money exists: the foreign keys keep the ledger whole.
DELETE FROM ledger_accounts WHERE token = 'LTC' AND merchant_id IS NULL;
DELETE FROM fee_schedules WHERE scope = 'LTC';
DELETE FROM tokens WHERE symbol = 'LTC';
ALTER TABLE tokens DROP CONSTRAINT tokens_address_format_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_address_format_check CHECK (address_format IN ('bitcoin', 'evm'));
ALTER TABLE tokens DROP COLUMN dust_limit;
