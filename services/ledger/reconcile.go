package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
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

// Reconciliation is the result of checking the whole ledger.
type Reconciliation struct {
	OK            bool
	CheckedAt     time.Time
	Tokens        []TokenTotals
	Discrepancies []Discrepancy
}

// Reconcile proves, per token, that every balance equals the sum of its ledger
// entries, that every journal sums to zero within one token, that all accounts of a
// token sum to zero, and that no balance is negative; it lists every exception.
func (l *Ledger) Reconcile(ctx context.Context) (Reconciliation, error) {
	db := l.db.Gorm(ctx)
	out := Reconciliation{CheckedAt: l.clock.Now(), Discrepancies: []Discrepancy{}}
	// One snapshot for every query, so concurrent withdrawals cannot fake a mismatch.
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").Error; err != nil {
			return err
		}
		var rows []struct {
			MerchantID, Token                                  string
			Available, Pending, LedgerAvailable, LedgerPending decimal.Decimal
		}
		if err := tx.Raw(`
			WITH sums AS (SELECT account_id, SUM(amount) AS total FROM ledger_entries GROUP BY account_id)
			SELECT b.merchant_id, b.token, b.available, b.pending,
			       COALESCE(sa.total, 0) AS ledger_available, COALESCE(sp.total, 0) AS ledger_pending
			FROM balances b
			LEFT JOIN sums sa ON sa.account_id = 'merchant:' || b.merchant_id || ':available:' || b.token
			LEFT JOIN sums sp ON sp.account_id = 'merchant:' || b.merchant_id || ':pending:' || b.token
			WHERE b.available <> COALESCE(sa.total, 0) OR b.pending <> COALESCE(sp.total, 0) OR b.available < 0 OR b.pending < 0
			ORDER BY b.token, b.merchant_id`).Scan(&rows).Error; err != nil {
			return fmt.Errorf("reconcile balances: %w", err)
		}
		for _, r := range rows {
			if !r.Available.Equal(r.LedgerAvailable) || !r.Pending.Equal(r.LedgerPending) {
				out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "balance_mismatch", Token: r.Token, Subject: r.MerchantID,
					Detail: fmt.Sprintf("balance available %s pending %s, ledger available %s pending %s", r.Available, r.Pending, r.LedgerAvailable, r.LedgerPending)})
			}
			if r.Available.IsNegative() || r.Pending.IsNegative() {
				out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "negative_balance", Token: r.Token, Subject: r.MerchantID,
					Detail: fmt.Sprintf("available %s pending %s", r.Available, r.Pending)})
			}
		}

		var journals []struct {
			ID, Token string
			Total     decimal.Decimal
			Mixed     bool
		}
		if err := tx.Raw(`
			SELECT j.id, j.token, SUM(e.amount) AS total, bool_or(a.token <> j.token) AS mixed
			FROM ledger_journals j JOIN ledger_entries e ON e.journal_id = j.id JOIN ledger_accounts a ON a.id = e.account_id
			GROUP BY j.id, j.token HAVING SUM(e.amount) <> 0 OR bool_or(a.token <> j.token)
			ORDER BY j.token, j.id`).Scan(&journals).Error; err != nil {
			return fmt.Errorf("reconcile journals: %w", err)
		}
		for _, j := range journals {
			if !j.Total.IsZero() {
				out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "unbalanced_journal", Token: j.Token, Subject: j.ID,
					Detail: fmt.Sprintf("entries sum to %s", j.Total)})
			}
			if j.Mixed {
				out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "mixed_token_journal", Token: j.Token, Subject: j.ID,
					Detail: "entries on accounts of another token"})
			}
		}
		if err := l.checkCounts(tx, &out); err != nil {
			return err
		}
		return l.totals(tx, &out)
	})
	if err != nil {
		return out, err
	}
	out.OK = len(out.Discrepancies) == 0
	return out, nil
}

// checkCounts proves the withdrawal counts kept by the database's triggers equal the
// withdrawals themselves.
func (l *Ledger) checkCounts(tx *gorm.DB, out *Reconciliation) error {
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

func (l *Ledger) totals(tx *gorm.DB, out *Reconciliation) error {
	var tokens []string
	if err := tx.Raw(`SELECT symbol FROM tokens ORDER BY symbol`).Scan(&tokens).Error; err != nil {
		return err
	}
	byToken := map[string]*TokenTotals{}
	for _, t := range tokens {
		out.Tokens = append(out.Tokens, TokenTotals{Token: t})
	}
	for i := range out.Tokens {
		byToken[out.Tokens[i].Token] = &out.Tokens[i]
	}
	var balances []struct {
		Token              string
		N                  int64
		Available, Pending decimal.Decimal
	}
	if err := tx.Raw(`SELECT token, COUNT(*) AS n, SUM(available) AS available, SUM(pending) AS pending FROM balances GROUP BY token`).Scan(&balances).Error; err != nil {
		return err
	}
	for _, b := range balances {
		if t := byToken[b.Token]; t != nil {
			t.Balances, t.Available, t.Pending = b.N, b.Available, b.Pending
		}
	}
	var kinds []struct {
		Token, Kind string
		Total       decimal.Decimal
	}
	if err := tx.Raw(`SELECT a.token, a.kind, SUM(e.amount) AS total FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id GROUP BY a.token, a.kind`).Scan(&kinds).Error; err != nil {
		return err
	}
	sums := map[string]decimal.Decimal{}
	for _, k := range kinds {
		t := byToken[k.Token]
		if t == nil {
			continue
		}
		sums[k.Token] = sums[k.Token].Add(k.Total)
		switch k.Kind {
		case "merchant_available":
			t.LedgerAvailable = k.Total
		case "merchant_pending":
			t.LedgerPending = k.Total
		case "platform_fees":
			t.PlatformFees = k.Total
		case "external_payouts":
			t.ExternalPayouts = k.Total
		case "external_deposits":
			t.ExternalDeposits = k.Total
		}
	}
	var journals []struct {
		Token string
		N     int64
	}
	if err := tx.Raw(`SELECT token, COUNT(*) AS n FROM ledger_journals GROUP BY token`).Scan(&journals).Error; err != nil {
		return err
	}
	for _, j := range journals {
		if t := byToken[j.Token]; t != nil {
			t.Journals = j.N
		}
	}
	for token, total := range sums {
		if !total.IsZero() {
			out.Discrepancies = append(out.Discrepancies, Discrepancy{Kind: "token_not_zero", Token: token, Subject: token,
				Detail: fmt.Sprintf("all %s accounts sum to %s, not 0", token, total)})
		}
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
