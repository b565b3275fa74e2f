-- +goose Up
-- An operator can freeze a merchant's payouts: new withdrawals are refused
-- (PAYOUTS_FROZEN) and batching leaves the merchant's pending ones alone until unfrozen.
-- The refusal is part of the admission rule the recorder applies to every withdrawal, so
-- it is defined here once, next to the whitelist's.
ALTER TABLE merchants ADD COLUMN payouts_frozen_at timestamptz, ADD COLUMN payouts_frozen_reason text
    CHECK (payouts_frozen_reason IS NULL OR length(payouts_frozen_reason) BETWEEN 1 AND 200);

DROP FUNCTION whitelist_verdicts(text[], text[], text[], text[], timestamptz[]);
-- +goose StatementBegin
-- admission_verdicts: for each withdrawal given (merchant, token, network, normalized
-- address, time, in arrays of one order), whether its merchant's payouts are frozen, and
-- whether it passes the whitelist: when the merchant's enforcement is off, or when the
-- address is an entry for that token and network that is usable (its cooldown over) and
-- not deleted. An unknown merchant passes nothing. ord numbers the verdicts from 1 in the
-- arrays' order. (A set-returning SQL function: PostgreSQL inlines it into the statement
-- that calls it.)
CREATE FUNCTION admission_verdicts(merchants text[], tokens text[], networks text[], addresses text[], at timestamptz[])
RETURNS TABLE (ord bigint, frozen boolean, allowed boolean) LANGUAGE sql STABLE AS $$
    SELECT x.ord, m.payouts_frozen_at IS NOT NULL,
           COALESCE(NOT whitelist_enforced(m.whitelist_enabled, m.whitelist_enforced_until, x.at)
                   OR EXISTS (SELECT 1 FROM whitelist_entries e
                               WHERE e.merchant_id = x.merchant AND e.token = x.token AND e.network = x.network
                                 AND e.normalized_address = x.address AND e.deleted_at IS NULL AND e.usable_at <= x.at), false)
      FROM unnest(merchants, tokens, networks, addresses, at) WITH ORDINALITY AS x(merchant, token, network, address, at, ord)
      LEFT JOIN merchants m ON m.id = x.merchant
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION admission_verdicts(text[], text[], text[], text[], timestamptz[]);
-- +goose StatementBegin
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
ALTER TABLE merchants DROP COLUMN payouts_frozen_reason, DROP COLUMN payouts_frozen_at;
