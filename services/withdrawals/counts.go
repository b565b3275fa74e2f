package withdrawals

// CountsSQL keeps withdrawal_counts (withdrawals per merchant, token, network and
// status) in step with the withdrawals, in the statement that changes them: the CTE
// counted adds, per key, the sum of delta over the rows of a CTE named count_deltas
// (merchant_id, token, network, status, delta) that the statement defines before it.
// Creation counts its new withdrawals in; a status change counts each one out of its
// old status and into its new one. Keys are upserted in order, so two statements lock
// shared count rows in the same order. It is the only code that writes the counts;
// reconciliation proves them exact.
const CountsSQL = `counted AS (
			INSERT INTO withdrawal_counts AS c (merchant_id, token, network, status, n)
			SELECT merchant_id, token, network, status, sum(delta) FROM count_deltas
			 GROUP BY merchant_id, token, network, status ORDER BY merchant_id, token, network, status
			ON CONFLICT (merchant_id, token, network, status) DO UPDATE SET n = c.n + EXCLUDED.n)`
