-- One withdrawal of a random merchant of 1,000, as one statement (one round trip, one
-- commit): the conditional debit, then, only if it matched, the withdrawal, its ledger
-- row and its outbox row. \gset fails the client if nothing matched.
\set m random(1, 1000)
\set cents random(1000, 100000)
\set key random(1, 9223372036854775807)
WITH debit AS (
    UPDATE ref_balances
       SET available = available - :cents::numeric / 100, pending = pending + :cents::numeric / 100, updated_at = now()
     WHERE merchant_id = 'r' || :m AND token = 'USDT' AND available >= :cents::numeric / 100
    RETURNING merchant_id, token
), w AS (
    INSERT INTO ref_withdrawals (id, merchant_id, token, amount, fee, address, status, metadata, idempotency_key)
    SELECT 'w_' || :key, merchant_id, token, :cents::numeric / 100, 1, '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
           'pending', jsonb_build_object('orderId', 'o-' || :key), 'k-' || :key
      FROM debit
    RETURNING id, merchant_id, token, amount
), l AS (
    INSERT INTO ref_ledger (withdrawal_id, merchant_id, token, amount) SELECT id, merchant_id, token, -amount FROM w
), o AS (
    INSERT INTO ref_outbox (merchant_id, event, body)
    SELECT merchant_id, 'withdrawal.pending', jsonb_build_object('id', id, 'amount', amount::text) FROM w
)
SELECT id FROM w \gset
