// Package history grows a merchant's withdrawal history directly in the database, the
// way years of payouts would leave it, for the listing plan test and `make scale`:
// finished withdrawals (confirmed, failed, cancelled) across every token and network,
// each with the ledger journals the service would have written (lock, then settle or
// release), funded by credits, with the balances and the kept withdrawal counts moved to
// match. Reconciliation passes on what it writes.
package history

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/paycore/withdrawals/services/withdrawals"
)

// Chunk is how many withdrawals one transaction writes.
const Chunk = 50_000

// Grow adds n finished withdrawals to merchantID's history, created one every step
// before the earliest it already has (or before now), oldest last, in transactions of
// Chunk. The merchant must exist. It returns how many it wrote.
func Grow(ctx context.Context, db *sql.DB, merchantID string, n int, step time.Duration) (int, error) {
	var before time.Time
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(min(created_at), now()) FROM withdrawals WHERE merchant_id = $1`, merchantID).
		Scan(&before); err != nil {
		return 0, fmt.Errorf("history: %w", err)
	}
	var seq int64 // keeps generated ids unique across calls
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM withdrawals WHERE merchant_id = $1`, merchantID).Scan(&seq); err != nil {
		return 0, fmt.Errorf("history: %w", err)
	}
	written := 0
	for written < n {
		size := min(Chunk, n-written)
		if _, err := db.ExecContext(ctx, growSQL, merchantID, seq+int64(written), size, before, step.Seconds()); err != nil {
			return written, fmt.Errorf("history: chunk at %d: %w", written, err)
		}
		written += size
		before = before.Add(-time.Duration(size) * step)
	}
	return written, nil
}

// growSQL writes one chunk: $1 merchant, $2 the first sequence number, $3 how many,
// $4 the time the newest is created before, $5 seconds between two withdrawals. Ids
// have the service's shape (wth_ and 16 characters): H, the merchant id's first five
// characters and the sequence number in ten digits, so two merchants' histories differ;
// one of the service's random ids takes that shape with negligible odds. The mix: 1 in
// 10 BTC, ETH and LTC each, USDT on ethereum and on tron for the rest; 1 in 25 failed,
// 1 in 100 cancelled (in runs of ten, whatever the token), the others confirmed; fee 1%
// of the amount.
const growSQL = `
WITH g AS MATERIALIZED (
	SELECT i, $1::text AS merchant_id,
	       $4::timestamptz - make_interval(secs => (i - $2 + 1) * $5::float8) AS at,
	       m.token, m.network, m.address,
	       CASE WHEN i / 10 % 100 = 7 THEN 'cancelled' WHEN i / 10 % 25 = 3 THEN 'failed' ELSE 'confirmed' END AS status,
	       round(m.unit * (10 + i % 90), 8) AS amount,
	       'H' || substr($1, 5, 5) || lpad(i::text, 10, '0') AS tag
	  FROM generate_series($2::bigint, $2::bigint + $3 - 1) AS i
	  JOIN (VALUES (0, 'BTC', 'bitcoin', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', 0.001),
	               (1, 'ETH', 'ethereum', '0x742d35Cc6634C0532925a3b844Bc454e4438f44e', 0.01),
	               (2, 'LTC', 'litecoin', 'ltc1qg82j6l5lsxk7v4yqsvvm9nyv9t4q4v3j2hln7l', 0.1),
	               (3, 'USDT', 'ethereum', '0x742d35Cc6634C0532925a3b844Bc454e4438f44e', 1),
	               (4, 'USDT', 'ethereum', '0x742d35Cc6634C0532925a3b844Bc454e4438f44e', 1),
	               (5, 'USDT', 'ethereum', '0x742d35Cc6634C0532925a3b844Bc454e4438f44e', 1),
	               (6, 'USDT', 'tron', 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv8', 1),
	               (7, 'USDT', 'tron', 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv8', 1),
	               (8, 'USDT', 'ethereum', '0x742d35Cc6634C0532925a3b844Bc454e4438f44e', 1),
	               (9, 'USDT', 'tron', 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv8', 1))
	       AS m(slot, token, network, address, unit) ON m.slot = i % 10),
w AS (
	INSERT INTO withdrawals (id, merchant_id, token, network, amount, fee_base, fee_markup_rate, fee_markup_amount,
	                         fee_total, net_amount, address, normalized_address, status, failure_reason,
	                         created_at, updated_at, estimated_completion, processing_at, confirmed_at, failed_at, cancelled_at)
	SELECT 'wth_' || tag, merchant_id, token, network, amount, 0, 0.01, amount / 100, amount / 100, amount - amount / 100,
	       address, lower(address), status, CASE WHEN status = 'failed' THEN 'history: provider refused' END,
	       at, at + interval '10 minutes', at + interval '10 minutes',
	       CASE WHEN status <> 'cancelled' THEN at + interval '1 minute' END,
	       CASE WHEN status = 'confirmed' THEN at + interval '10 minutes' END,
	       CASE WHEN status = 'failed' THEN at + interval '10 minutes' END,
	       CASE WHEN status = 'cancelled' THEN at + interval '30 seconds' END
	  FROM g),
-- Each withdrawal's lock, and its settlement (confirmed) or release (failed, cancelled).
j AS (
	SELECT 'jrn_l' || tag AS id, 'withdrawal_lock' AS kind, g.*, at AS posted FROM g
	UNION ALL
	SELECT 'jrn_s' || tag, CASE WHEN status = 'confirmed' THEN 'withdrawal_settle' ELSE 'withdrawal_release' END,
	       g.*, at + interval '10 minutes' FROM g),
journals AS (
	INSERT INTO ledger_journals (id, kind, merchant_id, token, withdrawal_id, created_by, created_at)
	SELECT id, kind, merchant_id, token, 'wth_' || tag, CASE WHEN kind <> 'withdrawal_lock' THEN 'history' END, posted FROM j),
legs AS (
	SELECT j.id AS journal_id, j.tag, j.posted, l.n, l.account_id, l.amount
	  FROM j CROSS JOIN LATERAL (VALUES
	       (1, CASE j.kind WHEN 'withdrawal_lock' THEN 'merchant:' || j.merchant_id || ':available:' || j.token
	                       ELSE 'merchant:' || j.merchant_id || ':pending:' || j.token END,
	           -j.amount),
	       (2, CASE j.kind WHEN 'withdrawal_lock' THEN 'merchant:' || j.merchant_id || ':pending:' || j.token
	                       WHEN 'withdrawal_release' THEN 'merchant:' || j.merchant_id || ':available:' || j.token
	                       ELSE 'external:payouts:' || j.token END,
	           CASE WHEN j.kind = 'withdrawal_settle' THEN j.amount - j.amount / 100 ELSE j.amount END),
	       (3, CASE WHEN j.kind = 'withdrawal_settle' THEN 'platform:fees:' || j.token END, j.amount / 100)) AS l(n, account_id, amount)
	 WHERE l.account_id IS NOT NULL),
entries AS (
	INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at)
	SELECT 'ent_' || substr(journal_id, 5) || '_' || n, journal_id, account_id, amount, posted FROM legs),
-- Credits fund the confirmed ones, one per token, so that the balance ends where it was.
paid AS (
	SELECT token, sum(amount) AS amount, min(at) AS at FROM g WHERE status = 'confirmed' GROUP BY token),
credits AS (
	INSERT INTO ledger_journals (id, kind, merchant_id, token, reference, created_by, created_at)
	SELECT 'jrn_c' || $2 || '_' || token || '_' || substr($1, 5), 'credit', $1, token, 'history-' || $2 || '-' || token, 'history', at - interval '1 day'
	  FROM paid),
credit_entries AS (
	INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at)
	SELECT 'ent_c' || $2 || '_' || token || '_' || substr($1, 5) || '_' || n, 'jrn_c' || $2 || '_' || token || '_' || substr($1, 5),
	       CASE n WHEN 1 THEN 'external:deposits:' || token ELSE 'merchant:' || $1 || ':available:' || token END,
	       CASE n WHEN 1 THEN -amount ELSE amount END, at - interval '1 day'
	  FROM paid CROSS JOIN (VALUES (1), (2)) AS l(n)),
count_deltas AS (
	SELECT merchant_id, token, network, status, 1 AS delta FROM g),
` + withdrawals.CountsSQL + `
SELECT`
