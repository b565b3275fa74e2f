// Package rails is the boundary to the payment rails that send crypto on chain: the
// Provider interface the payout worker calls, the choice of a provider per token, and
// the built-in sandbox provider merchants test their integrations against (the real
// rails live in rails/bitcoind and rails/evm). It knows nothing of balances or ledgers.
package rails

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

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
	// Since is when the batch was claimed: nothing of it can have reached the rail
	// before, which bounds a provider's search for an earlier submission.
	Since time.Time
	// Reference is the provider's reference returned by Submit (empty before).
	Reference string
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
	Status(ctx context.Context, b Batch) ([]ItemResult, error)
}

// Checker is a provider that can tell whether its rail answers (GET /readyz).
type Checker interface {
	Check(ctx context.Context) error
}

// Rails chooses the provider that pays each token on each network: the one configured
// for the token on that network ("USDT:ethereum"), else for the token ("LTC"), else the
// default (the sandbox unless told otherwise).
type Rails struct {
	Default Provider
	ByToken map[string]Provider
}

// For returns the provider that pays token on network.
func (r Rails) For(token, network string) Provider {
	if p, ok := r.ByToken[token+":"+network]; ok {
		return p
	}
	if p, ok := r.ByToken[token]; ok {
		return p
	}
	return r.Default
}

// Reachability is one configured rail's answer to a readiness check.
type Reachability struct {
	Token    string
	Network  string // empty when the rail pays the token on every network
	Provider string
	Err      error
}

// Check asks every token's own provider that can be checked whether it answers, in
// token order, all at once.
func (r Rails) Check(ctx context.Context) []Reachability {
	tokens := slices.Sorted(maps.Keys(r.ByToken))
	out := make([]Reachability, len(tokens))
	var wg sync.WaitGroup
	for i, key := range tokens {
		p := r.ByToken[key]
		token, network, _ := strings.Cut(key, ":")
		out[i] = Reachability{Token: token, Network: network, Provider: p.Name()}
		if c, ok := p.(Checker); ok {
			wg.Go(func() { out[i].Err = c.Check(ctx) })
		}
	}
	wg.Wait()
	return out
}

// ErrUnknownBatch means the provider has no batch with that ID.
var ErrUnknownBatch = errors.New("payouts: provider does not know this batch")
