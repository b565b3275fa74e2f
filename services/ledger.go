package services

import (
	"fmt"
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
		return fmt.Errorf("ledger: journal %s (%s) does not balance: sum %s", j.ID, j.Kind, sum)
	}
	if err := tx.Create(&j).Error; err != nil {
		return fmt.Errorf("ledger: insert journal: %w", err)
	}
	if err := tx.Create(&entries).Error; err != nil {
		return fmt.Errorf("ledger: insert entries: %w", err)
	}
	return nil
}

// openMerchantAccounts creates a merchant's ledger accounts and zero balance rows for
// the given tokens; existing ones are left as they are.
func openMerchantAccounts(tx *gorm.DB, merchantID string, tokens []string, now time.Time) error {
	if len(tokens) == 0 {
		return nil
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

// The balance movements after creation (the lock itself is part of createSQL in
// withdrawals.go). Each is one UPDATE of the materialised balance row; the CHECK
// constraints on balances back every one of them.

// releaseFunds returns a locked amount to available.
func releaseFunds(tx *gorm.DB, merchantID, token string, amount decimal.Decimal, now time.Time) error {
	return exactlyOne(tx.Exec(`UPDATE balances SET available = available + ?, pending = pending - ?, updated_at = ?
		WHERE merchant_id = ? AND token = ?`, amount, amount, now, merchantID, token), "release funds")
}

// settleFunds removes a locked amount for good (it was paid out).
func settleFunds(tx *gorm.DB, merchantID, token string, amount decimal.Decimal, now time.Time) error {
	return exactlyOne(tx.Exec(`UPDATE balances SET pending = pending - ?, updated_at = ?
		WHERE merchant_id = ? AND token = ?`, amount, now, merchantID, token), "settle funds")
}

// creditFunds adds to available.
func creditFunds(tx *gorm.DB, merchantID, token string, amount decimal.Decimal, now time.Time) error {
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
