-- make pgcost: a service database's merchants, ledger accounts and balances, seeded in
-- SQL as the service's own paths leave them (m1..m1000, USDT).
INSERT INTO merchants (id, name, created_at)
SELECT 'm' || i, 'merchant ' || i, now() FROM generate_series(1, 1000) i;
INSERT INTO ledger_accounts (id, kind, merchant_id, token, created_at)
SELECT 'merchant:m' || i || ':' || k || ':USDT', 'merchant_' || k, 'm' || i, 'USDT', now()
  FROM generate_series(1, 1000) i, unnest(ARRAY['available', 'pending']) k;
INSERT INTO balances (merchant_id, token, available, pending, updated_at)
SELECT 'm' || i, 'USDT', 1e15, 0, now() FROM generate_series(1, 1000) i;
ANALYZE;
