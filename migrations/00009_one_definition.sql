-- +goose Up
-- One definition per rule. Withdrawal creation is written by the service's Go code
-- (services/withdrawals/recorder.go) with typed arrays; the two PL/pgSQL writers that
-- re-implemented its rules in SQL, and the id generator they needed, go. The whitelist
-- rule lives here, once, and Go calls it both to check a withdrawal and to show a
-- merchant its settings.
DROP FUNCTION create_withdrawals(jsonb);
DROP FUNCTION record_withdrawals(jsonb, text, text, int);
DROP FUNCTION random_base62(int);
DROP TYPE withdrawal_request;

-- +goose StatementBegin
-- whitelist_enforced: withdrawals are checked while the merchant has enforcement on, and
-- for the cooldown after turning it off (enforced_until).
CREATE FUNCTION whitelist_enforced(enabled boolean, enforced_until timestamptz, at timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT enabled OR COALESCE(at < enforced_until, false)
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- whitelist_verdicts: for each withdrawal given (merchant, token, normalized address,
-- time, in arrays of one order), whether it passes the whitelist: when the merchant's
-- enforcement is off, or when the address is an entry that is usable (its cooldown
-- over) and not deleted. An unknown merchant passes nothing. ord numbers the verdicts
-- from 1 in the arrays' order. (A set-returning SQL function: PostgreSQL inlines it
-- into the statement that calls it, so it costs no plan of its own.)
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

-- Metadata and event bodies are kept as the service wrote them: json keeps the text,
-- where jsonb would rewrite numbers (and could expand an exponent a thousandfold).
ALTER TABLE withdrawals ALTER COLUMN metadata TYPE json;
ALTER TABLE webhook_events ALTER COLUMN payload TYPE json;

-- +goose Down
ALTER TABLE webhook_events ALTER COLUMN payload TYPE jsonb;
ALTER TABLE withdrawals ALTER COLUMN metadata TYPE jsonb;
DROP FUNCTION whitelist_verdicts(text[], text[], text[], timestamptz[]);
DROP FUNCTION whitelist_enforced(boolean, timestamptz, timestamptz);
-- The writers dropped above are not restored: roll back to the release before 00009
-- with a database restored from before it.
