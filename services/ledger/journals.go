// Package ledger is the double-entry ledger: its accounts, the journals every balance
// change is written as (each sums to zero), the balances materialised from the merchant
// accounts, the balance reads, and the reconciliation that proves both agree.
//
// Every balance change is a journal. Apply posts journals and moves the balances by
// their legs on merchant accounts, so the materialised balances follow from one rule:
// available and pending are the sums of the merchant's available and pending accounts.
package ledger

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/models"
)

// Account ids are natural keys, so postings need no lookup (migrations/00001_core.sql).
func MerchantAvailable(merchantID, token string) string {
	return "merchant:" + merchantID + ":available:" + token
}
func MerchantPending(merchantID, token string) string {
	return "merchant:" + merchantID + ":pending:" + token
}
func PlatformFees(token string) string     { return "platform:fees:" + token }
func ExternalPayouts(token string) string  { return "external:payouts:" + token }
func ExternalDeposits(token string) string { return "external:deposits:" + token }

// Posting is one leg of a journal.
type Posting struct {
	Account string
	Amount  decimal.Decimal
}

// Journal is one balanced movement of money in one token for one merchant.
type Journal struct {
	models.LedgerJournal
	Legs []Posting
}

func newJournal(kind models.JournalKind, merchantID, token string, at time.Time, legs ...Posting) Journal {
	return Journal{LedgerJournal: models.LedgerJournal{ID: ids.Journal(), Kind: kind, MerchantID: merchantID, Token: token, CreatedAt: at}, Legs: legs}
}

// Lock is the journal of a new withdrawal: its amount moves from available to pending.
func Lock(w models.Withdrawal) Journal {
	j := newJournal(models.JournalWithdrawalLock, w.MerchantID, w.Token, w.CreatedAt,
		Posting{MerchantAvailable(w.MerchantID, w.Token), w.Amount.Neg()},
		Posting{MerchantPending(w.MerchantID, w.Token), w.Amount})
	j.WithdrawalID = &w.ID
	return j
}

// Release returns a cancelled or failed withdrawal's amount to available.
func Release(w models.Withdrawal, actor string, at time.Time) Journal {
	j := newJournal(models.JournalWithdrawalRelease, w.MerchantID, w.Token, at,
		Posting{MerchantPending(w.MerchantID, w.Token), w.Amount.Neg()},
		Posting{MerchantAvailable(w.MerchantID, w.Token), w.Amount})
	j.WithdrawalID, j.CreatedBy = &w.ID, &actor
	return j
}

// Settle takes a confirmed withdrawal's amount out of pending: the net to external
// payouts, the fee to the platform's fee account.
func Settle(w models.Withdrawal, actor string, at time.Time) Journal {
	j := newJournal(models.JournalWithdrawalSettle, w.MerchantID, w.Token, at,
		Posting{MerchantPending(w.MerchantID, w.Token), w.Amount.Neg()},
		Posting{ExternalPayouts(w.Token), w.NetAmount},
		Posting{PlatformFees(w.Token), w.FeeTotal})
	j.WithdrawalID, j.CreatedBy = &w.ID, &actor
	return j
}

// Credit brings money in from outside: external deposits to the merchant's available.
func Credit(merchantID, token string, amount decimal.Decimal, reference, actor string, at time.Time) Journal {
	j := newJournal(models.JournalCredit, merchantID, token, at,
		Posting{ExternalDeposits(token), amount.Neg()},
		Posting{MerchantAvailable(merchantID, token), amount})
	j.Reference, j.CreatedBy = &reference, &actor
	return j
}

// entries are the journal's rows: zero legs (a withdrawal without a fee) are left out,
// and a journal whose legs do not sum to zero, which would create or destroy money, is
// refused.
func (j Journal) entries() ([]models.LedgerEntry, error) {
	sum := decimal.Zero
	out := make([]models.LedgerEntry, 0, len(j.Legs))
	for _, l := range j.Legs {
		sum = sum.Add(l.Amount)
		if l.Amount.IsZero() {
			continue
		}
		out = append(out, models.LedgerEntry{ID: ids.Entry(), JournalID: j.ID, AccountID: l.Account, Amount: l.Amount, CreatedAt: j.CreatedAt})
	}
	if !sum.IsZero() {
		return nil, fmt.Errorf("ledger: journal %s (%s) does not balance: sum %s", j.ID, j.Kind, sum)
	}
	return out, nil
}

// balanceDelta is what the journal changes in the merchant's materialised balance.
func (j Journal) balanceDelta() (available, pending decimal.Decimal) {
	for _, l := range j.Legs {
		switch l.Account {
		case MerchantAvailable(j.MerchantID, j.Token):
			available = available.Add(l.Amount)
		case MerchantPending(j.MerchantID, j.Token):
			pending = pending.Add(l.Amount)
		}
	}
	return available, pending
}
