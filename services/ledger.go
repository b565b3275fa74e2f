package services

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paycore/withdrawals/models"
)

// Ledger account ids are natural keys, so postings need no lookup (see migrations/00001_core.sql).
func merchantAvailableAccount(merchantID, token string) string {
	return "merchant:" + merchantID + ":available:" + token
}
func merchantPendingAccount(merchantID, token string) string {
	return "merchant:" + merchantID + ":pending:" + token
}
func platformFeesAccount(token string) string     { return "platform:fees:" + token }
func externalPayoutsAccount(token string) string  { return "external:payouts:" + token }
func externalDepositsAccount(token string) string { return "external:deposits:" + token }

// posting is one leg of a journal.
type posting struct {
	account string
	amount  decimal.Decimal
}

// postJournal writes a journal and its entries. It refuses a journal whose legs do
// not sum to zero: that would create or destroy money. Zero legs (a withdrawal without
// a fee) are left out.
func postJournal(tx *gorm.DB, j models.LedgerJournal, legs []posting) error {
	entries, err := journalEntries(j, legs)
	if err != nil {
		return err
	}
	if err := tx.Create(&j).Error; err != nil {
		return fmt.Errorf("ledger: insert journal: %w", err)
	}
	if err := tx.Create(&entries).Error; err != nil {
		return fmt.Errorf("ledger: insert entries: %w", err)
	}
	return nil
}

// journalEntries turns a journal's legs into entries, refusing legs that do not sum to
// zero. Zero legs (a withdrawal without a fee) are left out.
func journalEntries(j models.LedgerJournal, legs []posting) ([]models.LedgerEntry, error) {
	sum := decimal.Zero
	entries := make([]models.LedgerEntry, 0, len(legs))
	for _, l := range legs {
		sum = sum.Add(l.amount)
		if l.amount.IsZero() {
			continue
		}
		entries = append(entries, models.LedgerEntry{ID: newEntryID(), JournalID: j.ID, AccountID: l.account, Amount: l.amount, CreatedAt: j.CreatedAt})
	}
	if !sum.IsZero() {
		return nil, fmt.Errorf("ledger: journal %s (%s) does not balance: sum %s", j.ID, j.Kind, sum)
	}
	return entries, nil
}

// openMerchantAccounts creates a merchant's ledger accounts and zero balance rows for
// the given tokens; existing ones are left as they are.
func openMerchantAccounts(tx *gorm.DB, merchantID string, tokens []string, now time.Time) error {
	if len(tokens) == 0 {
		return nil
	}
	if err := touchBalances(tx, merchantID); err != nil {
		return err
	}
	accounts := make([]models.LedgerAccount, 0, 2*len(tokens))
	balances := make([]models.Balance, 0, len(tokens))
	for _, token := range tokens {
		mid := merchantID
		accounts = append(accounts,
			models.LedgerAccount{ID: merchantAvailableAccount(merchantID, token), Kind: models.AccountMerchantAvailable, MerchantID: &mid, Token: token, CreatedAt: now},
			models.LedgerAccount{ID: merchantPendingAccount(merchantID, token), Kind: models.AccountMerchantPending, MerchantID: &mid, Token: token, CreatedAt: now})
		balances = append(balances, models.Balance{MerchantID: merchantID, Token: token, Available: decimal.Zero, Pending: decimal.Zero, UpdatedAt: now})
	}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&accounts).Error; err != nil {
		return fmt.Errorf("ledger: open accounts: %w", err)
	}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&balances).Error; err != nil {
		return fmt.Errorf("ledger: open balances: %w", err)
	}
	return nil
}

// The balance movements after creation (the lock itself is part of record_withdrawals,
// migrations/00007). Each is one UPDATE of the materialised balance row; the CHECK
// constraints on balances back every one of them.

// moveBalances applies release (pending -> available) or settlement (pending leaves)
// journals to the materialised balances, one UPDATE for all merchants and tokens
// concerned. Every pair must match exactly one balance row.
//
// The rows are locked first, in merchant and token order, the order withdrawal creation
// locks them in (migrations/00007): a single UPDATE ... FROM locks rows in whatever
// order its plan visits them (Go's random map order when the pairs drive index lookups),
// so two payout batches of one token settling at once could deadlock on their common
// merchants (PostgreSQL aborts one after a second; River retries its job seconds later).
func moveBalances(tx *gorm.DB, kind models.JournalKind, totals map[[2]string]decimal.Decimal, now time.Time) error {
	if len(totals) == 0 {
		return nil
	}
	set := "pending = b.pending - x.total"
	if kind == models.JournalWithdrawalRelease {
		set = "available = b.available + x.total, pending = b.pending - x.total"
	}
	keys := slices.SortedFunc(maps.Keys(totals), func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	})
	for _, key := range keys {
		if err := touchBalances(tx, key[0]); err != nil {
			return err
		}
	}
	values := make([]string, 0, len(keys))
	pairs := make([]any, 0, 2*len(keys))
	totalArgs := make([]any, 0, 3*len(keys)+1)
	totalArgs = append(totalArgs, now)
	for _, key := range keys {
		values = append(values, "(?, ?, CAST(? AS numeric))")
		pairs = append(pairs, key[0], key[1])
		totalArgs = append(totalArgs, key[0], key[1], totals[key])
	}
	if err := tx.Exec(`SELECT 1 FROM balances b
		JOIN (VALUES `+strings.Repeat("(?, ?), ", len(keys)-1)+`(?, ?)) AS x(merchant_id, token)
		  ON b.merchant_id = x.merchant_id AND b.token = x.token
		ORDER BY b.merchant_id, b.token FOR UPDATE OF b`, pairs...).Error; err != nil {
		return fmt.Errorf("ledger: move balances: lock: %w", err)
	}
	res := tx.Exec(`UPDATE balances b SET `+set+`, updated_at = ?
		FROM (VALUES `+strings.Join(values, ", ")+`) AS x(merchant_id, token, total)
		WHERE b.merchant_id = x.merchant_id AND b.token = x.token`, totalArgs...)
	if res.Error != nil {
		return fmt.Errorf("ledger: move balances: %w", res.Error)
	}
	if res.RowsAffected != int64(len(totals)) {
		return fmt.Errorf("ledger: move balances: expected %d balance rows, updated %d", len(totals), res.RowsAffected)
	}
	return nil
}

// creditFunds adds to available.
func creditFunds(tx *gorm.DB, merchantID, token string, amount decimal.Decimal, now time.Time) error {
	if err := touchBalances(tx, merchantID); err != nil {
		return err
	}
	return exactlyOne(tx.Exec(`UPDATE balances SET available = available + ?, updated_at = ?
		WHERE merchant_id = ? AND token = ?`, amount, now, merchantID, token), "credit funds")
}

func exactlyOne(res *gorm.DB, what string) error {
	if res.Error != nil {
		return fmt.Errorf("ledger: %s: %w", what, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("ledger: %s: expected one balance row, updated %d", what, res.RowsAffected)
	}
	return nil
}
