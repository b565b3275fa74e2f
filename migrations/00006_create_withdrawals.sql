-- +goose Up
-- create_withdrawals records a group of withdrawal requests in the caller's transaction,
-- so that concurrent requests share one round trip and one commit (the service's group
-- commit, see services/groupcommit.go). Each item is checked and written exactly as a
-- lone request would be; one item's refusal never affects another's.
--
-- Per item, in order:
--   1. a key already bound (by an earlier request or an earlier item of the group) is
--      answered key_bound at once;
--   2. whitelist: while the merchant's enforcement is on, the address must be a usable entry;
--   3. conditional debit: available -> pending, only if available covers the amount;
--   4. the withdrawal, bound to its idempotency key. A key that a concurrent request
--      bound meanwhile gives the funds back, in the same transaction: nothing of it is
--      ever visible;
--   5. the lock journal and its two entries, summing to zero;
--   6. the withdrawal.pending outbox event, and the endpoints subscribed to it (the
--      caller writes their deliveries in the same transaction).
-- Steps 1 to 3 run item by item, ordered by merchant and token (two groups lock balance
-- rows in the same order and cannot deadlock each other; one balance serves its items in
-- arrival order); steps 4 to 6 are one statement each for the whole group.
--
-- items: a JSON array of objects; amounts are decimal strings, request_hash is base64.
-- Returns one row per item: its outcome (created, not_whitelisted, insufficient,
-- key_bound), the available balance when insufficient, the subscribed endpoint ids
-- (comma separated).
CREATE TYPE withdrawal_request AS (
    item int, id text, merchant_id text, token text, network text, amount numeric,
    fee_base numeric, fee_markup_rate numeric, fee_markup_amount numeric, fee_total numeric,
    net_amount numeric, address text, normalized_address text, metadata jsonb,
    idempotency_key text, request_hash text, created_at timestamptz,
    estimated_completion timestamptz, journal_id text, entry_available text,
    entry_pending text, account_available text, account_pending text, event_id text, payload jsonb);

-- +goose StatementBegin
CREATE FUNCTION create_withdrawals(items jsonb)
RETURNS TABLE (item int, outcome text, available_now numeric, endpoint_ids text)
LANGUAGE plpgsql AS $$
DECLARE
    r       withdrawal_request;
    allowed boolean;
    debited withdrawal_request[] := '{}';
    keys    text[] := '{}';
    created text[];
BEGIN
    -- Steps 1 to 3 one item at a time: several items may draw on the same balance.
    FOR r IN
        SELECT * FROM jsonb_populate_recordset(NULL::withdrawal_request, items) x
        ORDER BY x.merchant_id, x.token, x.item
    LOOP
        -- A key already bound is answered before any debit, so its amount never holds
        -- funds that a later item of the group could have used.
        IF r.idempotency_key IS NOT NULL THEN
            IF r.merchant_id || '/' || r.idempotency_key = ANY (keys)
               OR EXISTS (SELECT 1 FROM withdrawals w
                           WHERE w.merchant_id = r.merchant_id AND w.idempotency_key = r.idempotency_key) THEN
                RETURN QUERY SELECT r.item, 'key_bound', NULL::numeric, NULL::text;
                CONTINUE;
            END IF;
            keys := keys || (r.merchant_id || '/' || r.idempotency_key);
        END IF;

        SELECT NOT (m.whitelist_enabled OR COALESCE(r.created_at < m.whitelist_enforced_until, false))
            OR EXISTS (SELECT 1 FROM whitelist_entries e
                WHERE e.merchant_id = m.id AND e.token = r.token AND e.normalized_address = r.normalized_address
                  AND e.deleted_at IS NULL AND e.usable_at <= r.created_at)
          INTO allowed
          FROM merchants m WHERE m.id = r.merchant_id;
        IF NOT COALESCE(allowed, false) THEN
            RETURN QUERY SELECT r.item, 'not_whitelisted', NULL::numeric, NULL::text;
            CONTINUE;
        END IF;

        UPDATE balances b
           SET available = b.available - r.amount, pending = b.pending + r.amount, updated_at = r.created_at
         WHERE b.merchant_id = r.merchant_id AND b.token = r.token AND b.available >= r.amount;
        IF NOT FOUND THEN
            RETURN QUERY SELECT r.item, 'insufficient', b.available, NULL::text FROM balances b
             WHERE b.merchant_id = r.merchant_id AND b.token = r.token;
            CONTINUE;
        END IF;
        debited := debited || r;
    END LOOP;
    IF cardinality(debited) = 0 THEN
        RETURN;
    END IF;

    -- Steps 4 to 6 for all debited items at once.
    WITH w AS (
        INSERT INTO withdrawals (id, merchant_id, token, network, amount, fee_base, fee_markup_rate,
            fee_markup_amount, fee_total, net_amount, address, status, metadata, idempotency_key,
            request_hash, created_at, updated_at, estimated_completion)
        SELECT d.id, d.merchant_id, d.token, d.network, d.amount, d.fee_base, d.fee_markup_rate,
            d.fee_markup_amount, d.fee_total, d.net_amount, d.address, 'pending', d.metadata, d.idempotency_key,
            decode(d.request_hash, 'base64'), d.created_at, d.created_at, d.estimated_completion
          FROM unnest(debited) d
        ON CONFLICT (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id
    )
    SELECT COALESCE(array_agg(w.id), '{}') INTO created FROM w;

    FOR r IN SELECT * FROM unnest(debited) d WHERE NOT d.id = ANY (created) LOOP
        UPDATE balances b
           SET available = b.available + r.amount, pending = b.pending - r.amount
         WHERE b.merchant_id = r.merchant_id AND b.token = r.token;
        RETURN QUERY SELECT r.item, 'key_bound', NULL::numeric, NULL::text;
    END LOOP;

    INSERT INTO ledger_journals (id, kind, merchant_id, token, withdrawal_id, created_at)
    SELECT d.journal_id, 'withdrawal_lock', d.merchant_id, d.token, d.id, d.created_at
      FROM unnest(debited) d WHERE d.id = ANY (created);
    INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at)
    SELECT e.id, d.journal_id, e.account, e.amount, d.created_at
      FROM unnest(debited) d,
           LATERAL (VALUES (d.entry_available, d.account_available, -d.amount),
                           (d.entry_pending, d.account_pending, d.amount)) AS e(id, account, amount)
     WHERE d.id = ANY (created);
    INSERT INTO webhook_events (id, merchant_id, type, subject_id, payload, created_at)
    SELECT d.event_id, d.merchant_id, 'withdrawal.pending', d.id, d.payload, d.created_at
      FROM unnest(debited) d WHERE d.id = ANY (created);

    RETURN QUERY
    SELECT d.item, 'created', NULL::numeric,
           (SELECT string_agg(e.id, ',') FROM webhook_endpoints e
             WHERE e.merchant_id = d.merchant_id AND e.deleted_at IS NULL AND e.disabled_at IS NULL
               AND jsonb_exists(e.events, 'withdrawal.pending'))
      FROM unnest(debited) d WHERE d.id = ANY (created);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION create_withdrawals(jsonb);
DROP TYPE withdrawal_request;
