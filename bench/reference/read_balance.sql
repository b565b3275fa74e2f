-- A merchant's balances: GET /api/balance's query.
\set m random(1, 1000)
SELECT token, available, pending FROM ref_balances WHERE merchant_id = 'r' || :m;
