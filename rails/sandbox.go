package rails

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SandboxConfig is how the sandbox behaves.
type SandboxConfig struct {
	// ConfirmDelay is how long after submission an accepted item is confirmed.
	ConfirmDelay time.Duration
	// FailAddresses fail with reason "invalid_address", so merchants can test failures.
	FailAddresses []string
	// Fault rehearses an incident: "timeout_after_accept" records a batch, then answers
	// as if the call had timed out; "stall" records it, then does not answer until the
	// caller gives up; "unavailable" refuses every call. Empty: the fault set while the
	// service runs (the sandbox_settings row, PUT /api/admin/sandbox), none by default.
	Fault string
	Clock func() time.Time
}

// Sandbox faults (SANDBOX_FAULT, or the sandbox_settings row).
const (
	FaultTimeoutAfterAccept = "timeout_after_accept"
	FaultStall              = "stall"
	FaultUnavailable        = "unavailable"
)

// Faults lists every fault the sandbox can rehearse.
var Faults = []string{FaultTimeoutAfterAccept, FaultStall, FaultUnavailable}

// errSandboxUnavailable is what the sandbox answers while rehearsing an outage.
var errSandboxUnavailable = errors.New("sandbox: provider unavailable (SANDBOX_FAULT=unavailable)")

// Sandbox is a payment service that pays nobody: it behaves like a custody provider
// (idempotent batches, a tx hash per batch, confirmations after a delay, failures for
// chosen addresses) and keeps its books in the sandbox_payouts table, so it survives
// restarts and never "pays" a resubmitted batch twice.
type Sandbox struct {
	db    *gorm.DB
	cfg   SandboxConfig
	fails map[string]bool
}

// NewSandbox returns the sandbox provider.
func NewSandbox(db *gorm.DB, cfg SandboxConfig) *Sandbox {
	fails := map[string]bool{}
	for _, a := range cfg.FailAddresses {
		if a = strings.TrimSpace(a); a != "" {
			fails[a] = true
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Sandbox{db: db, cfg: cfg, fails: fails}
}

// Name implements Provider.
func (s *Sandbox) Name() string { return "sandbox" }

type sandboxPayout struct {
	BatchID      string `gorm:"primaryKey"`
	WithdrawalID string `gorm:"primaryKey"`
	Token        string
	Address      string
	Amount       decimal.Decimal
	Status       string
	TxHash       *string
	Reason       *string
	SubmittedAt  time.Time
	ConfirmAt    time.Time
}

func (sandboxPayout) TableName() string { return "sandbox_payouts" }

// Submit implements Provider. Rows that already exist for this batch are kept as they
// are: that is the idempotency.
func (s *Sandbox) Submit(ctx context.Context, b Batch) (string, []ItemResult, error) {
	fault, err := s.fault(ctx)
	if err != nil {
		return "", nil, err
	}
	if fault == FaultUnavailable {
		return "", nil, errSandboxUnavailable
	}
	now := s.cfg.Clock().UTC()
	txHash := sandboxTxHash(b.ID, b.Network)
	rows := make([]sandboxPayout, 0, len(b.Items))
	for _, it := range b.Items {
		row := sandboxPayout{BatchID: b.ID, WithdrawalID: it.WithdrawalID, Token: b.Token, Address: it.Address,
			Amount: it.Amount, Status: "accepted", TxHash: &txHash, SubmittedAt: now, ConfirmAt: now.Add(s.cfg.ConfirmDelay)}
		if s.fails[it.Address] {
			reason := "invalid_address"
			row.Status, row.TxHash, row.Reason = "failed", nil, &reason
		}
		rows = append(rows, row)
	}
	if len(rows) > 0 {
		if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(&rows, 1000).Error; err != nil {
			return "", nil, fmt.Errorf("sandbox: record batch: %w", err)
		}
	}
	switch fault {
	case FaultTimeoutAfterAccept:
		return "", nil, fmt.Errorf("sandbox: batch %s accepted, answer lost: %w", b.ID, context.DeadlineExceeded)
	case FaultStall:
		return "", nil, stall(ctx, "submit "+b.ID)
	}
	results, err := s.status(ctx, b.ID)
	return "sbx_" + b.ID, results, err
}

// Status implements Provider.
func (s *Sandbox) Status(ctx context.Context, b Batch) ([]ItemResult, error) {
	batchID := b.ID
	fault, err := s.fault(ctx)
	if err != nil {
		return nil, err
	}
	switch fault {
	case FaultUnavailable:
		return nil, errSandboxUnavailable
	case FaultStall:
		return nil, stall(ctx, "status of "+batchID)
	}
	return s.status(ctx, batchID)
}

// stall is a provider that took the call and never answers: the caller's deadline ends it.
func stall(ctx context.Context, call string) error {
	<-ctx.Done()
	return fmt.Errorf("sandbox: %s stalled (fault %s): %w", call, FaultStall, ctx.Err())
}

// fault is the incident being rehearsed: SANDBOX_FAULT when set, else the one switched
// on while the service runs.
func (s *Sandbox) fault(ctx context.Context) (string, error) {
	if s.cfg.Fault != "" {
		return s.cfg.Fault, nil
	}
	var fault string
	if err := s.db.WithContext(ctx).Raw(`SELECT fault FROM sandbox_settings`).Scan(&fault).Error; err != nil {
		return "", fmt.Errorf("sandbox: read settings: %w", err)
	}
	return fault, nil
}

func (s *Sandbox) status(ctx context.Context, batchID string) ([]ItemResult, error) {
	var rows []sandboxPayout
	if err := s.db.WithContext(ctx).Where("batch_id = ?", batchID).Order("withdrawal_id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("sandbox: read batch: %w", err)
	}
	if len(rows) == 0 {
		return nil, ErrUnknownBatch
	}
	now := s.cfg.Clock()
	out := make([]ItemResult, len(rows))
	for i, r := range rows {
		res := ItemResult{WithdrawalID: r.WithdrawalID}
		switch {
		case r.Status == "failed":
			res.Status, res.Reason = ItemFailed, *r.Reason
		case !now.Before(r.ConfirmAt):
			res.Status, res.TxHash = ItemConfirmed, *r.TxHash
		default:
			res.Status, res.TxHash = ItemAccepted, *r.TxHash
		}
		out[i] = res
	}
	return out, nil
}

// sandboxTxHash gives every batch one deterministic-looking transaction hash, as a
// batched on-chain payout would have: bare hex on Bitcoin, Litecoin and Tron, as their
// explorers show them, 0x-prefixed on EVM networks.
func sandboxTxHash(batchID, network string) string {
	sum := sha256.Sum256([]byte("sandbox:" + batchID))
	h := hex.EncodeToString(sum[:])
	switch network {
	case "bitcoin", "litecoin", "tron":
		return h
	}
	return "0x" + h
}
