// Package payouts is the boundary to the payment service that sends crypto on chain:
// the Provider interface the payout worker calls, and the built-in sandbox provider
// merchants test their integrations against. It knows nothing of balances or ledgers.
package rails

import (
	"context"
	"errors"

	"github.com/shopspring/decimal"
)

// Item is one withdrawal inside a batch: what to send where.
type Item struct {
	WithdrawalID string
	Address      string
	Amount       decimal.Decimal // the net amount, fee already deducted
}

// Batch is one submission to the provider: all items are in the same token.
// ID is the provider-side idempotency key: submitting the same ID twice pays once.
type Batch struct {
	ID      string
	Token   string
	Network string
	Items   []Item
}

// ItemStatus is the provider's word on one item.
type ItemStatus string

const (
	ItemAccepted  ItemStatus = "accepted"  // broadcast, awaiting confirmations: not final
	ItemConfirmed ItemStatus = "confirmed" // final: paid
	ItemFailed    ItemStatus = "failed"    // final: will never be paid
)

// ItemResult is an item's outcome as the provider reports it.
type ItemResult struct {
	WithdrawalID string
	Status       ItemStatus
	TxHash       string // accepted or confirmed
	Reason       string // failed, machine-readable ("invalid_address")
}

// Provider is the payment service. Any error it returns is ambiguous: the batch may
// or may not have been accepted, so the caller retries with the same batch ID and
// never releases funds on an error. Only an ItemFailed result is definitive.
type Provider interface {
	// Name identifies the provider in batches and logs.
	Name() string
	// Submit hands a batch over (idempotent by Batch.ID) and returns what is known of
	// each item so far, plus the provider's own reference for the batch.
	Submit(ctx context.Context, b Batch) (reference string, results []ItemResult, err error)
	// Status reports the items of a batch submitted earlier.
	Status(ctx context.Context, batchID string) ([]ItemResult, error)
}

// ErrUnknownBatch means the provider has no batch with that ID.
var ErrUnknownBatch = errors.New("payouts: provider does not know this batch")
