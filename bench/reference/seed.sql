-- 1,000 merchants (r1 .. r1000) in three tokens with balances that never run out, one
-- merchant (rhot) that every hot transaction debits, and :history earlier withdrawals
-- per merchant (100 by default) so the tables and indexes are not empty.
\if :{?history}
\else
\set history 100
\endif
INSERT INTO ref_balances (merchant_id, token, available)
SELECT 'r' || m, t, 1e15 FROM generate_series(1, 1000) m, unnest(ARRAY['USDT', 'ETH', 'BTC']) t;
INSERT INTO ref_balances (merchant_id, token, available) VALUES ('rhot', 'USDT', 1e18);

INSERT INTO ref_withdrawals (id, merchant_id, token, amount, fee, address, status, metadata, idempotency_key, created_at)
SELECT 'h_' || m || '_' || i, 'r' || m, 'USDT', 50, 1, '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', 'confirmed',
       jsonb_build_object('orderId', 'h-' || m || '-' || i), 'h-' || i, now() - make_interval(mins => :history - i)
  FROM generate_series(1, 1000) m, generate_series(1, :history) i;
INSERT INTO ref_ledger (withdrawal_id, merchant_id, token, amount, created_at)
SELECT id, merchant_id, token, -amount, created_at FROM ref_withdrawals;

VACUUM (ANALYZE);
