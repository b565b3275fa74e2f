-- +goose Up
-- A token can travel on several networks (USDT on Ethereum and on Tron). What depends on
-- the network moves from tokens to token_networks: the address format, the minimum, the
-- dust limit, the confirmation time, and whether withdrawals may use it now. A token keeps
-- its balance (one per merchant), its precision, and its default network (tokens.network:
-- the one a fee quote without a network prices). Fee schedules may name a network
-- ("USDT:tron"), falling back to the token's, then the default. Whitelist entries and
-- payout batches carry their network.
CREATE TABLE token_networks (
    token                text           NOT NULL REFERENCES tokens (symbol),
    network              text           NOT NULL CHECK (network ~ '^[a-z][a-z0-9-]{1,31}$'),
    address_format       text           NOT NULL CHECK (address_format IN ('bitcoin', 'litecoin', 'evm', 'tron')),
    min_withdrawal       numeric(38,18) NOT NULL CHECK (min_withdrawal >= 0),
    dust_limit           numeric(38,18) NOT NULL DEFAULT 0 CHECK (dust_limit >= 0),
    confirmation_seconds int            NOT NULL CHECK (confirmation_seconds >= 0),
    enabled              boolean        NOT NULL DEFAULT true,
    PRIMARY KEY (token, network)
);
INSERT INTO token_networks (token, network, address_format, min_withdrawal, dust_limit, confirmation_seconds)
SELECT symbol, network, address_format, min_withdrawal, dust_limit, confirmation_seconds FROM tokens;
-- TRC-20 USDT: Tron's blocks come every 3 s; 19 of them make a transfer final.
INSERT INTO token_networks (token, network, address_format, min_withdrawal, confirmation_seconds)
VALUES ('USDT', 'tron', 'tron', 2, 60);
ALTER TABLE tokens ADD CONSTRAINT tokens_default_network_fkey FOREIGN KEY (symbol, network)
    REFERENCES token_networks (token, network) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE tokens DROP COLUMN address_format, DROP COLUMN min_withdrawal, DROP COLUMN dust_limit,
    DROP COLUMN confirmation_seconds;

ALTER TABLE whitelist_entries ADD COLUMN network text;
UPDATE whitelist_entries e SET network = t.network FROM tokens t WHERE t.symbol = e.token;
ALTER TABLE whitelist_entries ALTER COLUMN network SET NOT NULL;
DROP INDEX whitelist_entries_unique_idx;
CREATE UNIQUE INDEX whitelist_entries_unique_idx ON whitelist_entries (merchant_id, token, network, normalized_address) WHERE deleted_at IS NULL;

ALTER TABLE payout_batches ADD COLUMN network text;
UPDATE payout_batches b SET network = t.network FROM tokens t WHERE t.symbol = b.token;
ALTER TABLE payout_batches ALTER COLUMN network SET NOT NULL;

DROP FUNCTION whitelist_verdicts(text[], text[], text[], timestamptz[]);
-- +goose StatementBegin
-- whitelist_verdicts: for each withdrawal given (merchant, token, network, normalized
-- address, time, in arrays of one order), whether it passes the whitelist: when the
-- merchant's enforcement is off, or when the address is an entry for that token and
-- network that is usable (its cooldown over) and not deleted. An unknown merchant passes
-- nothing. ord numbers the verdicts from 1 in the arrays' order. (A set-returning SQL
-- function: PostgreSQL inlines it into the statement that calls it.)
CREATE FUNCTION whitelist_verdicts(merchants text[], tokens text[], networks text[], addresses text[], at timestamptz[])
RETURNS TABLE (ord bigint, allowed boolean) LANGUAGE sql STABLE AS $$
    SELECT x.ord, COALESCE(NOT whitelist_enforced(m.whitelist_enabled, m.whitelist_enforced_until, x.at)
                   OR EXISTS (SELECT 1 FROM whitelist_entries e
                               WHERE e.merchant_id = x.merchant AND e.token = x.token AND e.network = x.network
                                 AND e.normalized_address = x.address AND e.deleted_at IS NULL AND e.usable_at <= x.at), false)
      FROM unnest(merchants, tokens, networks, addresses, at) WITH ORDINALITY AS x(merchant, token, network, address, at, ord)
      LEFT JOIN merchants m ON m.id = x.merchant
$$;
-- +goose StatementEnd

-- +goose Down
-- Refused once a withdrawal, entry or batch uses a network other than its token's default.
DROP FUNCTION whitelist_verdicts(text[], text[], text[], text[], timestamptz[]);
-- +goose StatementBegin
CREATE FUNCTION whitelist_verdicts(merchants text[], tokens text[], addresses text[], at timestamptz[])
RETURNS TABLE (ord bigint, allowed boolean) LANGUAGE sql STABLE AS $$
    SELECT x.ord, COALESCE(NOT whitelist_enforced(m.whitelist_enabled, m.whitelist_enforced_until, x.at)
                   OR EXISTS (SELECT 1 FROM whitelist_entries e
                               WHERE e.merchant_id = x.merchant AND e.token = x.token AND e.normalized_address = x.address
                                 AND e.deleted_at IS NULL AND e.usable_at <= x.at), false)
      FROM unnest(merchants, tokens, addresses, at) WITH ORDINALITY AS x(merchant, token, address, at, ord)
      LEFT JOIN merchants m ON m.id = x.merchant
$$;
-- +goose StatementEnd
ALTER TABLE payout_batches DROP COLUMN network;
DROP INDEX whitelist_entries_unique_idx;
CREATE UNIQUE INDEX whitelist_entries_unique_idx ON whitelist_entries (merchant_id, token, normalized_address) WHERE deleted_at IS NULL;
ALTER TABLE whitelist_entries DROP COLUMN network;
ALTER TABLE tokens ADD COLUMN address_format text, ADD COLUMN min_withdrawal numeric(38,18),
    ADD COLUMN dust_limit numeric(38,18) NOT NULL DEFAULT 0, ADD COLUMN confirmation_seconds int;
UPDATE tokens t SET address_format = n.address_format, min_withdrawal = n.min_withdrawal, dust_limit = n.dust_limit,
    confirmation_seconds = n.confirmation_seconds FROM token_networks n WHERE n.token = t.symbol AND n.network = t.network;
ALTER TABLE tokens DROP CONSTRAINT tokens_default_network_fkey;
DROP TABLE token_networks;
