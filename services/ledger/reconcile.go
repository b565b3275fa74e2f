package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/dbtx"
)

// Discrepancy is one broken ledger invariant.
type Discrepancy struct {
	Kind    string // balance_mismatch, negative_balance, unbalanced_journal, mixed_token_journal, token_not_zero, count_mismatch
	Token   string
	Subject string // merchant id or journal id
	Detail  string
}

// TokenTotals are one token's figures: the merchants' balances and the ledger accounts.
type TokenTotals struct {
	Token                          string
	Balances                       int64
	Available, Pending             decimal.Decimal // sums of the balances table
	LedgerAvailable, LedgerPending decimal.Decimal // sums of the merchant accounts' entries
	PlatformFees                   decimal.Decimal
	ExternalPayouts                decimal.Decimal
	ExternalDeposits               decimal.Decimal
	Journals                       int64
}

// Reconciliation is the result of a check.
type Reconciliation struct {
	OK        bool
	CheckedAt time.Time
	// Full: the check read the whole ledger (and counted the withdrawals). Otherwise it
	// started from the checkpoint Since verified, and read the entries written after it.
	Full          bool
	Since         *time.Time
	Tokens        []TokenTotals
	Discrepancies []Discrepancy
}

// settleWait bounds how long a check waits for the transactions that may still write
// entries below its watermark; ledger transactions last milliseconds.
const settleWait = 30 * time.Second

// Reconcile proves, per token, that every balance equals the sum of its ledger entries,
// that every journal sums to zero within one token, that all accounts of a token sum
// to zero, and that no balance is negative; it lists every exception.
//
// A full check sums every entry and also proves the kept withdrawal counts. Otherwise
// the check starts from the last verified checkpoint (the sum of each account's entries
// up to an entry sequence number) and reads only the entries after it, with every
// journal they belong to; with no checkpoint yet it is full. Every balance is compared
// either way. A check that finds nothing wrong moves the checkpoint to its watermark.
// Entries are append-only (triggers forbid UPDATE, DELETE and TRUNCATE), so what a
// checkpoint verified stays true; the full check re-proves it from scratch.
func (l *Ledger) Reconcile(ctx context.Context, full bool) (Reconciliation, error) {
	db := l.db.Gorm(ctx)
	out := Reconciliation{CheckedAt: l.clock.Now(), Full: full, Discrepancies: []Discrepancy{}}
	var from checkpoint
	if !full {
		found, err := from.load(db)
		if err != nil {
			return out, err
		}
		if out.Full = !found; found {
			out.Since = &from.VerifiedAt
		}
	}
	watermark, err := settledWatermark(ctx, db)
	if err != nil {
		return out, err
	}
	var read ledgerRead
	// One snapshot for every query, so concurrent withdrawals cannot fake a mismatch. It
	// is taken after the wait: every entry numbered up to the watermark is in it or was
	// rolled back.
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").Error; err != nil {
			return err
		}
		if err := read.readAccounts(tx, from, watermark, &out); err != nil {
			return err
		}
		if err := read.readJournals(tx, from, watermark, &out); err != nil {
			return err
		}
		if out.Full {
			return checkCounts(tx, &out)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	out.OK = len(out.Discrepancies) == 0
	if out.OK {
		if err := read.advance(ctx, l.db, from, watermark, out); err != nil {
			return out, err
		}
	}
	return out, recordRun(db, out)
}

// recordRun keeps the outcome of a check that ran to its end, for the gauges.
func recordRun(db *gorm.DB, out Reconciliation) error {
	var lastOK *time.Time
	if out.OK {
		lastOK = &out.CheckedAt
	}
	if err := db.Exec(`
		INSERT INTO reconciliation_status (id, ran_at, ok, full_check, discrepancies, last_ok_at) VALUES (true, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET ran_at = EXCLUDED.ran_at, ok = EXCLUDED.ok, full_check = EXCLUDED.full_check,
		       discrepancies = EXCLUDED.discrepancies, last_ok_at = COALESCE(EXCLUDED.last_ok_at, reconciliation_status.last_ok_at)`,
		out.CheckedAt, out.OK, out.Full, len(out.Discrepancies), lastOK).Error; err != nil {
		return fmt.Errorf("reconcile: record the run: %w", err)
	}
	return nil
}

// checkpoint is the last verified state: each account's sum of the entries numbered up
// to ThroughSeq, and the journals per token begun by them.
type checkpoint struct {
	ThroughSeq int64
	Journals   map[string]int64
	VerifiedAt time.Time
	FullAt     time.Time
}

func (c *checkpoint) load(tx *gorm.DB) (bool, error) {
	var row struct {
		ThroughSeq         int64
		Journals           []byte
		VerifiedAt, FullAt time.Time
	}
	res := tx.Raw(`SELECT through_seq, journals, verified_at, full_at FROM ledger_checkpoint`).Scan(&row)
	if res.Error != nil {
		return false, fmt.Errorf("reconcile: checkpoint: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	*c = checkpoint{ThroughSeq: row.ThroughSeq, VerifiedAt: row.VerifiedAt, FullAt: row.FullAt}
	return true, json.Unmarshal(row.Journals, &c.Journals)
}

// settledWatermark returns the last sequence number handed to a ledger entry, once
// every transaction of this database that was running when it was read has ended: any
// transaction that drew a number up to it was among them, so afterwards each of those
// entries is committed or rolled back. The numbers are drawn inside the transactions
// that write the entries, which is what makes the wait sufficient.
func settledWatermark(ctx context.Context, db *gorm.DB) (int64, error) {
	var watermark int64
	if err := db.Raw(`SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('ledger_entries', 'seq')::regclass), 0)`).
		Scan(&watermark).Error; err != nil {
		return 0, fmt.Errorf("reconcile: watermark: %w", err)
	}
	// Only client sessions of this database write entries: autovacuum and other
	// databases' sessions are not waited for.
	const running = `SELECT l.virtualxid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'virtualxid' AND a.backend_type = 'client backend'
		  AND a.datname = current_database() AND l.pid <> pg_backend_pid()`
	var open []string
	if err := db.Raw(running).Scan(&open).Error; err != nil {
		return 0, fmt.Errorf("reconcile: running transactions: %w", err)
	}
	deadline := time.Now().Add(settleWait)
	for len(open) > 0 {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("reconcile: %d transactions still open after %s (an idle transaction holds the check back)", len(open), settleWait)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		var still []string // GORM leaves a slice as it was when no row comes back
		if err := db.Raw(`SELECT * FROM (`+running+`) r WHERE virtualxid IN ?`, open).Scan(&still).Error; err != nil {
			return 0, fmt.Errorf("reconcile: running transactions: %w", err)
		}
		open = still
	}
	return watermark, nil
}

// account is one ledger account's sum, in three parts: up to the checkpoint (base),
// from it to the watermark (settled) and after the watermark (later).
type account struct {
	ID, Kind, Token      string
	MerchantID           *string
	Base, Settled, Later decimal.Decimal
}

func (a account) total() decimal.Decimal { return a.Base.Add(a.Settled).Add(a.Later) }

// ledgerRead is what one check read, kept to move the checkpoint.
type ledgerRead struct {
	accounts []account
	journals map[string]int64 // journals per token begun between the checkpoint and the watermark
}

// readAccounts sums every account and compares the merchants' balances with them.
func (r *ledgerRead) readAccounts(tx *gorm.DB, from checkpoint, watermark int64, out *Reconciliation) error {
	if err := tx.Raw(`
		WITH delta AS (
			SELECT account_id, SUM(amount) FILTER (WHERE seq <= @watermark) AS settled,
			       SUM(amount) FILTER (WHERE seq > @watermark) AS later
			  FROM ledger_entries WHERE seq > @from GROUP BY account_id)
		SELECT a.id, a.kind, a.token, a.merchant_id, COALESCE(b.total, 0) AS base,
		       COALESCE(d.settled, 0) AS settled, COALESCE(d.later, 0) AS later
		  FROM ledger_accounts a
		  LEFT JOIN ledger_checkpoint_sums b ON b.account_id = a.id AND NOT @full
		  LEFT JOIN delta d ON d.account_id = a.id
		 ORDER BY a.token, a.merchant_id, a.kind`,
		map[string]any{"watermark": watermark, "from": from.ThroughSeq, "full": out.Full}).Scan(&r.accounts).Error; err != nil {
		return fmt.Errorf("reconcile accounts: %w", err)
	}
	var balances []struct {
		MerchantID, Token  string
		Available, Pending decimal.Decimal
	}
	if err := tx.Raw(`SELECT merchant_id, token, available, pending FROM balances ORDER BY token, merchant_id`).Scan(&balances).Error; err != nil {
		return fmt.Errorf("reconcile balances: %w", err)
	}
	ledgerSum := map[string]decimal.Decimal{}
	for _, a := range r.accounts {
		ledgerSum[a.ID] = a.total()
	}
	totals := map[string]*TokenTotals{}
	var tokens []string
	if err := tx.Raw(`SELECT symbol FROM tokens ORDER BY symbol`).Scan(&tokens).Error; err != nil {
		return fmt.Errorf("reconcile tokens: %w", err)
	}
	out.Tokens = make([]TokenTotals, len(tokens))
	for i, t := range tokens {
		out.Tokens[i].Token = t
		totals[t] = &out.Tokens[i]
	}
	seen := map[string]bool{}
	for _, b := range balances {
		availableID, pendingID := "merchant:"+b.MerchantID+":available:"+b.Token, "merchant:"+b.MerchantID+":pending:"+b.Token
		seen[availableID], seen[pendingID] = true, true
		r.compare(out, b.MerchantID, b.Token, b.Available, b.Pending, ledgerSum[availableID], ledgerSum[pendingID])
		if t := totals[b.Token]; t != nil {
			t.Balances++
			t.Available, t.Pending = t.Available.Add(b.Available), t.Pending.Add(b.Pending)
		}
	}
	sums := map[string]decimal.Decimal{}
	for _, a := range r.accounts {
		sum := a.total()
		sums[a.Token] = sums[a.Token].Add(sum)
		if a.MerchantID != nil && !seen[a.ID] && !sum.IsZero() { // entries with no balance row
			r.compare(out, *a.MerchantID, a.Token, decimal.Zero, decimal.Zero, ledgerSum["merchant:"+*a.MerchantID+":available:"+a.Token], ledgerSum["merchant:"+*a.MerchantID+":pending:"+a.Token])
			seen["merchant:"+*a.MerchantID+":available:"+a.Token], seen["merchant:"+*a.MerchantID+":pending:"+a.Token] = true, true
		}
		t := totals[a.Token]
		if t == nil {
			continue
		}
		switch a.Kind {
		case "merchant_available":
			t.LedgerAvailable = t.LedgerAvailable.Add(sum)
		case "merchant_pending":
			t.LedgerPending = t.LedgerPending.Add(sum)
		case "platform_fees":
			t.PlatformFees = t.PlatformFees.Add(sum)
		case "external_payouts":
			t.ExternalPayouts = t.ExternalPayouts.Add(sum)
		case "external_deposits":
			t.ExternalDeposits = t.ExternalDeposits.Add(sum)
		}
	}
	for _, token := range tokens {
		if total := sums[token]; !total.IsZero() {
			out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "token_not_zero", Token: token, Subject: token,
				Detail: fmt.Sprintf("all %s accounts sum to %s, not 0", token, total)})
		}
	}
	return nil
}

// compare records a merchant's balance that differs from its accounts, or is negative.
func (r *ledgerRead) compare(out *Reconciliation, merchantID, token string, available, pending, ledgerAvailable, ledgerPending decimal.Decimal) {
	if !available.Equal(ledgerAvailable) || !pending.Equal(ledgerPending) {
		out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "balance_mismatch", Token: token, Subject: merchantID,
			Detail: fmt.Sprintf("balance available %s pending %s, ledger available %s pending %s", available, pending, ledgerAvailable, ledgerPending)})
	}
	if available.IsNegative() || pending.IsNegative() {
		out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "negative_balance", Token: token, Subject: merchantID,
			Detail: fmt.Sprintf("available %s pending %s", available, pending)})
	}
}

// readJournals proves that every journal with an entry after the checkpoint (every journal,
// in a full check) sums to zero on accounts of its own token, reading all of each one's
// entries, and counts journals per token.
func (r *ledgerRead) readJournals(tx *gorm.DB, from checkpoint, watermark int64, out *Reconciliation) error {
	checked := "ledger_journals j"
	if !out.Full {
		checked = "(SELECT DISTINCT journal_id AS id FROM ledger_entries WHERE seq > @from) t JOIN ledger_journals j USING (id)"
	}
	var rows []struct {
		Token          string
		ID             *string
		Total          decimal.Decimal
		Mixed          bool
		Settled, Later int64
	}
	// A journal is counted where its first entry falls: up to the checkpoint, up to the
	// watermark, or after it.
	if err := tx.Raw(`
		WITH j AS MATERIALIZED (
			SELECT j.id, j.token, SUM(e.amount) AS total, bool_or(a.token <> j.token) AS mixed, min(e.seq) AS first_seq
			  FROM `+checked+` JOIN ledger_entries e ON e.journal_id = j.id JOIN ledger_accounts a ON a.id = e.account_id
			 GROUP BY j.id, j.token)
		SELECT token, NULL AS id, 0 AS total, false AS mixed,
		       count(*) FILTER (WHERE first_seq <= @watermark) AS settled, count(*) FILTER (WHERE first_seq > @watermark) AS later
		  FROM j WHERE first_seq > @from GROUP BY token
		UNION ALL
		SELECT token, id, total, mixed, 0, 0 FROM j WHERE total <> 0 OR mixed
		ORDER BY token, id NULLS FIRST`,
		map[string]any{"watermark": watermark, "from": from.ThroughSeq}).Scan(&rows).Error; err != nil {
		return fmt.Errorf("reconcile journals: %w", err)
	}
	r.journals = map[string]int64{}
	counted := map[string]int64{}
	if !out.Full {
		for token, n := range from.Journals {
			counted[token] = n
		}
	}
	for _, j := range rows {
		if j.ID == nil {
			r.journals[j.Token] = j.Settled
			counted[j.Token] += j.Settled + j.Later
			continue
		}
		if !j.Total.IsZero() {
			out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "unbalanced_journal", Token: j.Token, Subject: *j.ID,
				Detail: fmt.Sprintf("entries sum to %s", j.Total)})
		}
		if j.Mixed {
			out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "mixed_token_journal", Token: j.Token, Subject: *j.ID,
				Detail: "entries on accounts of another token"})
		}
	}
	for i := range out.Tokens {
		out.Tokens[i].Journals = counted[out.Tokens[i].Token]
	}
	return nil
}

// advance moves the checkpoint to the watermark after a clean check. An incremental
// check moves it only from where it started: when another check moved it meanwhile,
// that one's checkpoint stands.
func (r *ledgerRead) advance(ctx context.Context, db *dbtx.DB, from checkpoint, watermark int64, out Reconciliation) error {
	return db.Transaction(ctx, func(tx *dbtx.Tx) error {
		// One check moves the checkpoint at a time; it reads it again under the lock.
		if err := tx.Exec(`LOCK TABLE ledger_checkpoint IN EXCLUSIVE MODE`).Error; err != nil {
			return err
		}
		var current checkpoint
		found, err := current.load(tx.DB)
		if err != nil {
			return err
		}
		if !out.Full && (!found || current.ThroughSeq != from.ThroughSeq) {
			return nil
		}
		journals := map[string]int64{}
		if !out.Full {
			for token, n := range from.Journals {
				journals[token] = n
			}
		}
		for token, n := range r.journals {
			journals[token] += n
		}
		var ids, amounts []string
		// A full check's settled part is each account's whole sum up to the watermark;
		// an incremental one's is what to add to the checkpoint.
		for _, a := range r.accounts {
			if !a.Settled.IsZero() {
				ids, amounts = append(ids, a.ID), append(amounts, a.Settled.String())
			}
		}
		if out.Full {
			if err := tx.Exec(`DELETE FROM ledger_checkpoint_sums`).Error; err != nil {
				return err
			}
		}
		if len(ids) > 0 {
			if err := tx.Execute(ctx, `
				INSERT INTO ledger_checkpoint_sums AS s (account_id, total)
				SELECT * FROM unnest($1::text[], $2::text[]::numeric[])
				ON CONFLICT (account_id) DO UPDATE SET total = s.total + EXCLUDED.total`, ids, amounts); err != nil {
				return fmt.Errorf("reconcile: checkpoint sums: %w", err)
			}
		}
		fullAt := current.FullAt
		if out.Full || !found {
			fullAt = out.CheckedAt
		}
		b, err := json.Marshal(journals)
		if err != nil {
			return err
		}
		return tx.Exec(`
			INSERT INTO ledger_checkpoint (id, through_seq, journals, verified_at, full_at) VALUES (true, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET through_seq = EXCLUDED.through_seq, journals = EXCLUDED.journals,
			       verified_at = EXCLUDED.verified_at, full_at = EXCLUDED.full_at`,
			watermark, b, out.CheckedAt, fullAt).Error
	})
}

// checkCounts proves the withdrawal counts kept by the writes equal the withdrawals
// themselves. It counts every withdrawal, so only the full check runs it.
func checkCounts(tx *gorm.DB, out *Reconciliation) error {
	var rows []struct {
		MerchantID, Token, Network, Status string
		Kept, Actual                       int64
	}
	if err := tx.Raw(`
		SELECT merchant_id, token, network, status, COALESCE(c.n, 0) AS kept, COALESCE(w.n, 0) AS actual
		FROM withdrawal_counts c
		FULL JOIN (SELECT merchant_id, token, network, status, COUNT(*) AS n FROM withdrawals GROUP BY 1, 2, 3, 4) w
		USING (merchant_id, token, network, status)
		WHERE COALESCE(c.n, 0) <> COALESCE(w.n, 0)
		ORDER BY token, merchant_id, status`).Scan(&rows).Error; err != nil {
		return fmt.Errorf("reconcile withdrawal counts: %w", err)
	}
	for _, r := range rows {
		out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "count_mismatch", Token: r.Token, Subject: r.MerchantID,
			Detail: fmt.Sprintf("%s withdrawals on %s: %d counted, %d exist", r.Status, r.Network, r.Kept, r.Actual)})
	}
	return nil
}

// FeeRevenue is the fees collected in one token over a period.
type FeeRevenue struct {
	Token       string
	Collected   decimal.Decimal
	Withdrawals int64
}

// FeeRevenue sums the platform fee accounts per token over [since, before); every
// token is listed, zero included. Fees are collected when a withdrawal is confirmed.
func (l *Ledger) FeeRevenue(ctx context.Context, since, before *time.Time) ([]FeeRevenue, error) {
	out := []FeeRevenue{}
	q := `SELECT t.symbol AS token, COALESCE(SUM(e.amount), 0) AS collected, COUNT(e.id) AS withdrawals
		FROM tokens t
		LEFT JOIN ledger_accounts a ON a.token = t.symbol AND a.kind = 'platform_fees'
		LEFT JOIN ledger_entries e ON e.account_id = a.id`
	var args []any
	if since != nil {
		q += ` AND e.created_at >= ?`
		args = append(args, *since)
	}
	if before != nil {
		q += ` AND e.created_at < ?`
		args = append(args, *before)
	}
	q += ` GROUP BY t.symbol ORDER BY t.symbol`
	if err := l.db.Gorm(ctx).Raw(q, args...).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("fee revenue: %w", err)
	}
	return out, nil
}
