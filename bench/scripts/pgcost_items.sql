-- make pgcost: :n withdrawals (scripts/pgcost.sh writes the number in, and the
-- statements around this expression) as the service's group writer sends them to
-- record_withdrawals: one JSON array. Items go to random merchants of m1..m1000, USDT,
-- with idempotency keys and metadata like the bench's requests. Colons inside the JSON
-- are written \u003a, or pgbench would read them as the start of one of its variables.
(SELECT ('[' || string_agg(format(
    '{"item":%s,"id":"wd_%s","merchant_id":"%s","token":"USDT","network":"ethereum",'
    '"amount":"10","fee_base":"1","fee_markup_rate":"0.01","fee_markup_amount":"0.1",'
    '"fee_total":"1.1","net_amount":"8.9","address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",'
    '"normalized_address":"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed","metadata":{"order_ref":"o-%s"},'
    '"idempotency_key":"k-%s","request_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",'
    '"created_at":"%s","estimated_completion":"%s","journal_id":"jrn_%s","entry_available":"le_a%s",'
    '"entry_pending":"le_p%s","account_available":"merchant\u003a%s\u003aavailable\u003aUSDT",'
    '"account_pending":"merchant\u003a%s\u003apending\u003aUSDT","event_id":"evt_%s",'
    '"payload":{"type":"withdrawal.pending","data":{"id":"wd_%s","amount":"10","status":"pending"}}}',
    g, u, m, u, u, now(), now() + interval '5 minutes', u, u, u, m, m, u, u), ',') || ']')::jsonb
  FROM (SELECT g, md5(random()::text) AS u, 'm' || (1 + floor(random() * 1000))::int AS m
          FROM generate_series(0, :n - 1) g) s)
