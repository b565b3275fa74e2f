-- +goose Up
-- record_withdrawals supersedes create_withdrawals (migrations/00006): the same answers,
-- with less work per withdrawal, no dependence on the plans PostgreSQL caches, and the
-- whole group in one statement that commits on its own.
-- create_withdrawals stays while instances of the previous release may still call it
-- during a rolling deploy; a later migration drops it.
--
-- What changed and why:
-- - Webhook deliveries and their River jobs are written here, so the caller needs no
--   explicit transaction: BEGIN and COMMIT were two of the three round trips of a group
--   and about 40% of its time. River jobs are rows of river_job, the documented contract
--   River's insert-only clients for other languages write to.
-- - Each balance of a group is updated once, not once per item. A row updated n times in
--   one transaction leaves n versions that each later update walks.
-- - The idempotency key is checked by the insert itself (ON CONFLICT on the key's unique
--   index), not by a lookup before it. The lookup was a second probe of the same index,
--   and its plan, cached by each connection while the table was young, used the
--   merchant's listing index instead: on a hot merchant every check read all of the
--   merchant's withdrawals (14,000 rows per check, measured with auto_explain).
--
-- Per group:
--   1. whitelist: while the merchant's enforcement is on, the address must be a usable
--      entry (one statement for the group; refused items are answered at once);
--   2. the withdrawals are inserted; an item whose key is already bound (by an earlier
--      request, a concurrent one that committed first, or an earlier item of the group)
--      is not inserted and is answered key_bound;
--   3. per balance, in merchant and token order (two groups lock balance rows in the same
--      order and cannot deadlock each other): the items' total is debited with one
--      conditional UPDATE; only when it does not fit is the row locked and read, and the
--      items served in arrival order, each while the balance still covers it. An item not
--      served is answered insufficient and its withdrawal deleted, in this transaction,
--      so nothing of it is ever visible (its key stays free);
--   4. the lock journal and its two entries (summing to zero), the withdrawal.pending
--      outbox event, a delivery to each endpoint subscribed to it and the delivery's job
--      (of the kind, queue and attempts the caller gives: River's settings stay in Go).

-- +goose StatementBegin
-- random_base62 is an identifier suffix like the service's (services/ids.go).
CREATE FUNCTION random_base62(n int) RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT string_agg(substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                             get_byte(r.b, i) % 62 + 1, 1), '' ORDER BY i)
      FROM (SELECT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex') AS b) r,
           generate_series(0, least(n, 32) - 1) i
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION record_withdrawals(items jsonb, job_kind text, job_queue text, job_attempts int)
RETURNS TABLE (item int, outcome text, available_now numeric)
LANGUAGE plpgsql AS $$
DECLARE
    allowed  withdrawal_request[];
    inserted text[];
    bal      record;
    r        withdrawal_request;
    avail    numeric;
    served   numeric;
    refused_items int[];
    refused  text[] := '{}';
    debited  withdrawal_request[] := '{}';
BEGIN
    -- Step 1. A scalar subquery per item: an index probe of merchants (and of the
    -- whitelist only while it is enforced).
    WITH checked AS (
        SELECT x, COALESCE((
                   SELECT NOT (m.whitelist_enabled OR COALESCE(x.created_at < m.whitelist_enforced_until, false))
                       OR (SELECT true FROM whitelist_entries e
                            WHERE e.merchant_id = m.id AND e.token = x.token
                              AND e.normalized_address = x.normalized_address
                              AND e.deleted_at IS NULL AND e.usable_at <= x.created_at)
                     FROM merchants m WHERE m.id = x.merchant_id), false) AS ok
          FROM jsonb_populate_recordset(NULL::withdrawal_request, items) x
    )
    SELECT array_agg(c.x) FILTER (WHERE c.ok),
           array_agg((c.x).item) FILTER (WHERE NOT c.ok)
      INTO allowed, refused_items
      FROM checked c;
    RETURN QUERY SELECT i, 'not_whitelisted', NULL::numeric FROM unnest(refused_items) i;
    IF allowed IS NULL THEN
        RETURN;
    END IF;

    -- Step 2. Rows are inserted in one order for every group, merchant then key (then
    -- arrival, for a key repeated within the group), so two groups waiting on each
    -- other's keys cannot deadlock; no balance is locked yet.
    WITH w AS (
        INSERT INTO withdrawals (id, merchant_id, token, network, amount, fee_base, fee_markup_rate,
            fee_markup_amount, fee_total, net_amount, address, status, metadata, idempotency_key,
            request_hash, created_at, updated_at, estimated_completion)
        SELECT d.id, d.merchant_id, d.token, d.network, d.amount, d.fee_base, d.fee_markup_rate,
            d.fee_markup_amount, d.fee_total, d.net_amount, d.address, 'pending', d.metadata, d.idempotency_key,
            decode(d.request_hash, 'base64'), d.created_at, d.created_at, d.estimated_completion
          FROM unnest(allowed) d
         ORDER BY d.merchant_id, d.idempotency_key, d.item
        ON CONFLICT (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id
    )
    SELECT COALESCE(array_agg(w.id), '{}') INTO inserted FROM w;
    RETURN QUERY SELECT d.item, 'key_bound', NULL::numeric
      FROM unnest(allowed) d WHERE NOT d.id = ANY (inserted);

    -- Step 3, one balance at a time.
    FOR bal IN
        SELECT d.merchant_id, d.token, array_agg(d ORDER BY d.item) AS reqs,
               sum(d.amount) AS total, max(d.created_at) AS at
          FROM unnest(allowed) d WHERE d.id = ANY (inserted)
         GROUP BY d.merchant_id, d.token
         ORDER BY d.merchant_id, d.token
    LOOP
        UPDATE balances b
           SET available = b.available - bal.total, pending = b.pending + bal.total, updated_at = bal.at
         WHERE b.merchant_id = bal.merchant_id AND b.token = bal.token AND b.available >= bal.total;
        IF FOUND THEN
            debited := debited || bal.reqs;
            CONTINUE;
        END IF;
        SELECT b.available INTO avail FROM balances b
         WHERE b.merchant_id = bal.merchant_id AND b.token = bal.token FOR UPDATE;
        avail := COALESCE(avail, 0); -- no balance row yet: nothing to draw on
        served := 0;
        FOREACH r IN ARRAY bal.reqs LOOP
            IF avail >= r.amount THEN
                avail := avail - r.amount;
                served := served + r.amount;
                debited := debited || r;
            ELSE
                refused := refused || r.id;
                RETURN QUERY SELECT r.item, 'insufficient', avail;
            END IF;
        END LOOP;
        IF served > 0 THEN
            UPDATE balances b
               SET available = b.available - served, pending = b.pending + served, updated_at = bal.at
             WHERE b.merchant_id = bal.merchant_id AND b.token = bal.token;
        END IF;
    END LOOP;
    IF cardinality(refused) > 0 THEN
        DELETE FROM withdrawals w WHERE w.id = ANY (refused);
    END IF;
    IF cardinality(debited) = 0 THEN
        RETURN;
    END IF;

    -- Step 4 for all debited items at once.
    INSERT INTO ledger_journals (id, kind, merchant_id, token, withdrawal_id, created_at)
    SELECT d.journal_id, 'withdrawal_lock', d.merchant_id, d.token, d.id, d.created_at
      FROM unnest(debited) d;
    INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at)
    SELECT e.id, d.journal_id, e.account, e.amount, d.created_at
      FROM unnest(debited) d,
           LATERAL (VALUES (d.entry_available, d.account_available, -d.amount),
                           (d.entry_pending, d.account_pending, d.amount)) AS e(id, account, amount);
    INSERT INTO webhook_events (id, merchant_id, type, subject_id, payload, created_at)
    SELECT d.event_id, d.merchant_id, 'withdrawal.pending', d.id, d.payload, d.created_at
      FROM unnest(debited) d;

    WITH delivery AS (
        INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, event_type, status, created_at, updated_at)
        SELECT 'whd_' || random_base62(20), d.event_id, e.id, d.merchant_id, 'withdrawal.pending', 'pending', d.created_at, d.created_at
          FROM unnest(debited) d
          JOIN webhook_endpoints e ON e.merchant_id = d.merchant_id AND e.deleted_at IS NULL
           AND e.disabled_at IS NULL AND jsonb_exists(e.events, 'withdrawal.pending')
        RETURNING id
    )
    INSERT INTO river_job (args, kind, max_attempts, queue, state)
    SELECT jsonb_build_object('delivery_id', delivery.id), job_kind, job_attempts, job_queue, 'available'
      FROM delivery;

    RETURN QUERY SELECT d.item, 'created', NULL::numeric FROM unnest(debited) d;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION record_withdrawals(jsonb, text, text, int);
DROP FUNCTION random_base62(int);
