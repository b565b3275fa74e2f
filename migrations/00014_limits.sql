-- +goose Up
-- Velocity limits per merchant and token (a merchant_id NULL row is the platform's
-- default for the token; a merchant's own row replaces it whole): the most one
-- withdrawal may carry, and the most the merchant's withdrawals may add up to over the
-- last 24 hours and 7 days. Withdrawals count while pending or processing and once
-- confirmed; failed and cancelled ones gave their funds back and do not.
CREATE TABLE payout_limits (
    merchant_id    text           REFERENCES merchants (id),
    token          text           NOT NULL REFERENCES tokens (symbol),
    per_withdrawal numeric(38,18) CHECK (per_withdrawal > 0),
    per_day        numeric(38,18) CHECK (per_day > 0),
    per_week       numeric(38,18) CHECK (per_week > 0),
    updated_at     timestamptz    NOT NULL,
    updated_by     text           NOT NULL
);
CREATE UNIQUE INDEX payout_limits_scope_idx ON payout_limits (token, COALESCE(merchant_id, ''));

-- +goose StatementBegin
-- limit_breach: the limit, if any, that the merchant's withdrawals of a token break once
-- the withdrawals just written at p_at (p_amounts, already in the table in the caller's
-- transaction) count: one row (kind 'per_withdrawal', 'per_day' or 'per_week', the
-- limit, and what remained of it before them) or none. Called with the balance row
-- locked, so concurrent withdrawals of one merchant and token are counted one after
-- another and cannot pass a limit together. Without a limit it reads only the limits.
CREATE FUNCTION limit_breach(p_merchant text, p_token text, p_at timestamptz, p_amounts numeric[])
RETURNS TABLE (kind text, lim numeric, remaining numeric) LANGUAGE sql STABLE AS $$
    -- Every step is LATERAL to the limits' row, so without one nothing else is read.
    SELECT b.kind, b.lim, greatest(b.lim - b.before, 0)
      FROM (SELECT * FROM payout_limits
             WHERE token = p_token AND (merchant_id = p_merchant OR merchant_id IS NULL)
             ORDER BY merchant_id NULLS LAST LIMIT 1) l
     CROSS JOIN LATERAL (SELECT max(a) AS biggest, sum(a) AS total FROM unnest(p_amounts) AS a) new
     CROSS JOIN LATERAL (
            SELECT COALESCE(sum(w.amount) FILTER (WHERE w.created_at > p_at - interval '24 hours'), 0) AS day,
                   COALESCE(sum(w.amount), 0) AS week
              FROM withdrawals w
             WHERE (l.per_day IS NOT NULL OR l.per_week IS NOT NULL)
               AND w.merchant_id = p_merchant AND w.token = p_token AND w.created_at > p_at - interval '7 days'
               AND w.status NOT IN ('failed', 'cancelled')) used
     CROSS JOIN LATERAL (VALUES (1, 'per_withdrawal', l.per_withdrawal, 0::numeric, new.biggest),
                                (2, 'per_day', l.per_day, used.day - new.total, used.day),
                                (3, 'per_week', l.per_week, used.week - new.total, used.week)) AS b(ord, kind, lim, before, now)
     WHERE b.lim < b.now
     ORDER BY b.ord
     LIMIT 1
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION limit_breach(text, text, timestamptz, numeric[]);
DROP TABLE payout_limits;
