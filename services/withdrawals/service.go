// Package withdrawals owns merchants' withdrawals: creating one (validate, price,
// record), reading and listing them, cancelling, the lifecycle every status change goes
// through, and the address whitelist a withdrawal must pass.
package withdrawals

import (
	"time"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/address"
	"github.com/paycore/withdrawals/services/pricing"
)

// Service is the merchant-facing withdrawal use cases.
type Service struct {
	db        *dbtx.DB
	clock     services.Clock
	pricing   *pricing.Service
	addresses *address.Validator
	recorder  Recorder
	lifecycle *Lifecycle
	// batchInterval is how often the payout batcher runs; it feeds the
	// estimatedCompletion of new withdrawals.
	batchInterval time.Duration
	// approvalTTL is how long a withdrawal may wait for approval before it expires.
	approvalTTL time.Duration
}

// New wires the withdrawal use cases. recorder writes new withdrawals: a Recorder, or
// the Grouped one over it.
func New(db *dbtx.DB, clock services.Clock, p *pricing.Service, addresses *address.Validator, recorder Recorder,
	lifecycle *Lifecycle, batchInterval, approvalTTL time.Duration) *Service {
	return &Service{db: db, clock: clock, pricing: p, addresses: addresses, recorder: recorder, lifecycle: lifecycle,
		batchInterval: batchInterval, approvalTTL: approvalTTL}
}
