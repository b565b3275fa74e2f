package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/recovered"
	"github.com/paycore/withdrawals/models"
)

// Group commit: concurrent withdrawal requests share one statement and one commit
// (batcher.go queues them).
//
// A withdrawal's cost in PostgreSQL is dominated not by its rows but by what surrounds
// them: a round trip per statement, and a commit that waits for the WAL to reach disk.
// Requests that arrive while a group is being written wait for the next one, which then
// carries all of them in one autocommitted call of record_withdrawals (migrations/00007).
// Nothing waits on purpose: a request that arrives when a writer is free is written at
// once, alone, so a quiet service answers as fast as before and a busy one writes more
// per commit.
//
// Nothing about a withdrawal changes: each is checked, debited, journalled and announced
// exactly as a lone one; a refusal (insufficient funds, whitelist, a bound key) is that
// item's answer and does not affect the others; no answer is given before the commit.
// If PostgreSQL refuses a group (an unforeseen constraint), nothing of it is committed
// and each of its requests is written again on its own, so one bad item cannot fail its
// neighbours.

const (
	// groupWriters is how many groups are written at once: one can be written while the
	// other commits, and groups still grow under load. Of 1, 2, 3, 4, 6 and 8, two
	// measured best: more writers make smaller groups, which cost PostgreSQL more per
	// withdrawal (BENCHMARKS.md). Extra writers that start only once a bigger group
	// waits gained 2-3% at best, inside the noise (fifteenth session): not kept.
	groupWriters = 2
	// maxGroup bounds one transaction, and so the wait of the first request in it.
	maxGroup = 64
)

// Outcomes of one item of a group, as record_withdrawals returns them.
const (
	outcomeCreated        = "created"
	outcomeNotWhitelisted = "not_whitelisted"
	outcomeInsufficient   = "insufficient"
	outcomeKeyBound       = "key_bound"
)

// createCall is one request waiting for its group.
type createCall struct {
	batchCall
	w                 models.Withdrawal
	evt               models.WebhookEvent
	normalizedAddress string

	// Set by the writer before the call is finished.
	outcome   string
	available decimal.Decimal // when insufficient
	err       error
}

func newGroupCommit(write func(ctx context.Context, calls []*createCall)) *batcher[*createCall] {
	return &batcher[*createCall]{runners: groupWriters, maxBatch: maxGroup, run: write}
}

// result is the call's answer once written.
func (c *createCall) result() (models.Withdrawal, error) {
	switch c.outcome {
	case outcomeCreated:
		return c.w, nil
	case outcomeNotWhitelisted:
		return models.Withdrawal{}, ErrAddressNotWhitelisted
	case outcomeInsufficient:
		return models.Withdrawal{}, &InsufficientBalanceError{Token: c.w.Token, Available: c.available, Requested: c.w.Amount}
	case outcomeKeyBound:
		// The key is bound to another withdrawal, which decides (see Create).
		return models.Withdrawal{}, errIdempotencyConflict
	}
	if c.err != nil {
		return models.Withdrawal{}, c.err
	}
	return models.Withdrawal{}, fmt.Errorf("create withdrawal: unknown outcome %q", c.outcome)
}

// writeGroup writes a group in one statement (its own transaction) and answers every
// call in it. A group that PostgreSQL refused, and so rolled back, is retried one call at
// a time, so each call gets its own answer. Any other failure (a lost connection) is
// not retried: the statement may have committed, and writing a keyless withdrawal
// again could create it twice.
func (s *Withdrawals) writeGroup(ctx context.Context, calls []*createCall) {
	start := time.Now()
	err := s.writeCalls(ctx, calls)
	// Every statement counts: a group PostgreSQL refused, then each of its items alone.
	s.meter.ObserveGroup(len(calls), time.Since(start))
	var refused *pgconn.PgError
	if errors.As(err, &refused) && len(calls) > 1 {
		for _, c := range calls {
			s.writeGroup(ctx, []*createCall{c})
		}
		return
	}
	// Whatever happened (an error may hide a commit), the group's balances are dropped
	// from the cache before anyone is answered.
	for _, c := range calls {
		s.balanceCache.Invalidate(c.w.MerchantID)
	}
	for _, c := range calls {
		if err != nil {
			c.outcome, c.err = "", err
		}
		c.finish()
	}
}

// groupItem is one withdrawal as record_withdrawals reads it.
type groupItem struct {
	Item                int             `json:"item"`
	ID                  string          `json:"id"`
	MerchantID          string          `json:"merchant_id"`
	Token               string          `json:"token"`
	Network             string          `json:"network"`
	Amount              decimal.Decimal `json:"amount"`
	FeeBase             decimal.Decimal `json:"fee_base"`
	FeeMarkupRate       decimal.Decimal `json:"fee_markup_rate"`
	FeeMarkupAmount     decimal.Decimal `json:"fee_markup_amount"`
	FeeTotal            decimal.Decimal `json:"fee_total"`
	NetAmount           decimal.Decimal `json:"net_amount"`
	Address             string          `json:"address"`
	NormalizedAddress   string          `json:"normalized_address"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	IdempotencyKey      *string         `json:"idempotency_key"`
	RequestHash         []byte          `json:"request_hash"` // base64
	CreatedAt           time.Time       `json:"created_at"`
	EstimatedCompletion time.Time       `json:"estimated_completion"`
	JournalID           string          `json:"journal_id"`
	EntryAvailable      string          `json:"entry_available"`
	EntryPending        string          `json:"entry_pending"`
	AccountAvailable    string          `json:"account_available"`
	AccountPending      string          `json:"account_pending"`
	EventID             string          `json:"event_id"`
	Payload             json.RawMessage `json:"payload"`
}

// writeCalls runs record_withdrawals for the calls (migrations/00007), which writes
// every created withdrawal with its ledger journal, event, deliveries and their jobs.
// Outcomes are recorded on the calls; they count only when no error is returned.
func (s *Withdrawals) writeCalls(ctx context.Context, calls []*createCall) (err error) {
	// A panic here may follow the commit: it is answered like a lost connection, once
	// writeGroup has dropped the group's balances from the cache.
	defer recovered.Into(&err)
	items := make([]groupItem, len(calls))
	for i, c := range calls {
		w := c.w
		items[i] = groupItem{Item: i, ID: w.ID, MerchantID: w.MerchantID, Token: w.Token, Network: w.Network,
			Amount: w.Amount, FeeBase: w.FeeBase, FeeMarkupRate: w.FeeMarkupRate, FeeMarkupAmount: w.FeeMarkupAmount,
			FeeTotal: w.FeeTotal, NetAmount: w.NetAmount, Address: w.Address, NormalizedAddress: c.normalizedAddress,
			Metadata: json.RawMessage(w.Metadata), IdempotencyKey: w.IdempotencyKey, RequestHash: w.RequestHash,
			CreatedAt: w.CreatedAt, EstimatedCompletion: w.EstimatedCompletion, JournalID: newJournalID(),
			EntryAvailable: newEntryID(), EntryPending: newEntryID(),
			AccountAvailable: merchantAvailableAccount(w.MerchantID, w.Token), AccountPending: merchantPendingAccount(w.MerchantID, w.Token),
			EventID: c.evt.ID, Payload: json.RawMessage(c.evt.Payload)}
	}
	body, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("create withdrawals: encode: %w", err)
	}
	job := s.outbox.deliveryOpts()
	rows, err := s.db.WithContext(ctx).Raw(`SELECT item, outcome, available_now FROM record_withdrawals(CAST(? AS jsonb), ?, ?, ?)`,
		string(body), DeliverWebhookArgs{}.Kind(), job.Queue, job.MaxAttempts).Rows()
	if err != nil {
		return fmt.Errorf("create withdrawals: %w", err)
	}
	defer rows.Close()
	answered := 0
	for rows.Next() {
		var (
			item      int
			outcome   string
			available decimal.NullDecimal
		)
		if err := rows.Scan(&item, &outcome, &available); err != nil {
			return fmt.Errorf("create withdrawals: read outcome: %w", err)
		}
		if item < 0 || item >= len(calls) {
			return fmt.Errorf("create withdrawals: outcome for unknown item %d", item)
		}
		calls[item].outcome, calls[item].available = outcome, available.Decimal
		answered++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("create withdrawals: %w", err)
	}
	if answered != len(calls) {
		return fmt.Errorf("create withdrawals: %d outcomes for %d items", answered, len(calls))
	}
	return nil
}
