package withdrawals

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/address"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/pricing"
	"github.com/paycore/withdrawals/services/webhooks"
)

// CreateInput is a merchant's withdrawal request.
type CreateInput struct {
	MerchantID     string
	Token          string
	Amount         decimal.Decimal
	Address        string
	Network        string          // optional
	Metadata       json.RawMessage // optional JSON object
	IdempotencyKey string          // optional
	KeyID          string          // the API key asking, recorded as the creator
	BatchRequestID string          // the mass payout it belongs to, if any
	Reference      string          // its reference in that mass payout
}

// CreateResult is the withdrawal, and whether it is a replay of an earlier request with
// the same idempotency key.
type CreateResult struct {
	Withdrawal models.Withdrawal
	Replayed   bool
}

// Create validates, prices and records a withdrawal, its amount locked in the same
// transaction, and answers. With an idempotency key, a request whose key is already
// bound is answered with the withdrawal the key is bound to instead.
func (s *Service) Create(ctx context.Context, in CreateInput) (CreateResult, error) {
	in, err := normalize(in)
	if err != nil {
		return CreateResult{}, err
	}
	w, err := s.prepare(ctx, in)
	if err == nil {
		err = s.record(ctx, &w)
	}
	if err == nil {
		return CreateResult{Withdrawal: w.Withdrawal}, nil
	}
	return s.answerBoundKey(ctx, in, err)
}

// Prepare validates and prices a request and builds what recording it writes, without
// writing anything: for a caller that records several withdrawals itself.
func (s *Service) Prepare(ctx context.Context, in CreateInput) (NewWithdrawal, error) {
	in, err := normalize(in)
	if err != nil {
		return NewWithdrawal{}, err
	}
	return s.prepare(ctx, in)
}

// normalize checks what a request carries besides its amount and token, and puts it in
// canonical form: metadata re-encoded with sorted keys, so that equal requests hash
// equally for idempotency.
func normalize(in CreateInput) (CreateInput, error) {
	if in.IdempotencyKey != "" {
		if err := validateIdempotencyKey(in.IdempotencyKey); err != nil {
			return in, err
		}
	}
	metadata, err := canonicalMetadata(in.Metadata)
	if err != nil {
		return in, err
	}
	in.Metadata = metadata
	in.Token = strings.ToUpper(in.Token)
	in.Network = strings.ToLower(in.Network)
	return in, nil
}

// prepare prices the request, checks its address, and builds everything recording it
// writes: the withdrawal, its lock journal and its withdrawal.pending event.
func (s *Service) prepare(ctx context.Context, in CreateInput) (NewWithdrawal, error) {
	tok, err := s.pricing.Token(ctx, in.Token)
	if err != nil {
		return NewWithdrawal{}, err
	}
	network, err := resolveNetwork(s.addresses, tok, in.Network, in.Address)
	if err != nil {
		return NewWithdrawal{}, err
	}
	quote, err := pricing.Price(tok, network, in.Amount)
	if err != nil {
		return NewWithdrawal{}, err
	}

	now := s.clock.Now()
	w := models.Withdrawal{
		ID: ids.Withdrawal(), MerchantID: in.MerchantID, Token: tok.Symbol, Network: network.Network,
		Amount: quote.Gross, FeeBase: quote.BaseFee, FeeMarkupRate: quote.MarkupRate, FeeMarkupAmount: quote.MarkupAmount,
		FeeTotal: quote.TotalFee, NetAmount: quote.Net, Address: in.Address, Status: models.StatusPending,
		CreatedAt: now, UpdatedAt: now,
		EstimatedCompletion: now.Add(s.batchInterval + time.Duration(network.ConfirmationSeconds)*time.Second),
	}
	if len(in.Metadata) > 0 {
		w.Metadata = []byte(in.Metadata)
	}
	if in.IdempotencyKey != "" {
		key := in.IdempotencyKey
		w.IdempotencyKey, w.RequestHash = &key, requestHash(in)
	}
	if in.KeyID != "" {
		w.CreatedByKey = &in.KeyID
	}
	if in.BatchRequestID != "" {
		w.BatchRequestID, w.Reference = &in.BatchRequestID, &in.Reference
	}
	data := eventData(w)
	evt, err := webhooks.NewEvent(w.MerchantID, webhooks.EventWithdrawalPending, w.ID, data, now)
	if err != nil {
		return NewWithdrawal{}, err
	}
	data["status"] = string(models.StatusPendingApproval) // the only difference of the held form
	heldEvt, err := webhooks.EventWithID(evt.ID, w.MerchantID, eventFor[models.StatusPendingApproval], w.ID, data, now)
	if err != nil {
		return NewWithdrawal{}, err
	}
	return NewWithdrawal{Withdrawal: w, NormalizedAddress: address.Normalize(network.AddressFormat, w.Address),
		Lock: ledger.Lock(w), Event: evt, Held: heldEvt}, nil
}

// record writes the withdrawal and turns its outcome into the request's answer.
func (s *Service) record(ctx context.Context, w *NewWithdrawal) error {
	outcomes, err := s.recorder.Record(ctx, []NewWithdrawal{*w})
	if err != nil {
		return err
	}
	return outcomeError(w, outcomes[0])
}

// outcomeError is the error of a withdrawal that was not created; a created one is
// updated with its hold, if an approval rule holds it.
func outcomeError(w *NewWithdrawal, o Outcome) error {
	switch o.Kind {
	case Created:
		if o.Hold != nil {
			w.Status, w.ApprovalsRequired, w.ApprovalReason = models.StatusPendingApproval, o.Hold.Approvals, &o.Hold.Reason
		}
		return nil
	case NotWhitelisted:
		return services.ErrAddressNotWhitelisted
	case Frozen:
		return services.ErrPayoutsFrozen
	case LimitExceeded:
		return &services.LimitExceededError{Token: w.Token, Kind: o.Breach.Kind, Limit: o.Breach.Limit, Remaining: o.Breach.Remaining}
	case Insufficient:
		return &services.InsufficientBalanceError{Token: w.Token, Available: o.Available, Requested: w.Amount}
	case KeyBound:
		return errKeyBound
	case ReferenceTaken:
		return services.Invalid(services.CodeDuplicateReference, "reference", "reference %q is already used by another withdrawal", *w.Reference)
	default:
		return fmt.Errorf("create withdrawal: outcome %d", o.Kind)
	}
}

// errKeyBound: the idempotency key is already bound to a withdrawal (an earlier request,
// a concurrent one that committed first, or an earlier request of the same group).
var errKeyBound = errors.New("idempotency key already bound")

// answerBoundKey answers a request that was not created: when its key is bound (by a
// finished earlier request, or by an earlier success that today's rules would refuse: a
// disabled token, a spent balance), the bound withdrawal decides; otherwise the
// request's own error does.
func (s *Service) answerBoundKey(ctx context.Context, in CreateInput, cause error) (CreateResult, error) {
	var validation *services.ValidationError
	var insufficient *services.InsufficientBalanceError
	var limit *services.LimitExceededError
	if in.IdempotencyKey == "" || !errors.Is(cause, errKeyBound) && !errors.Is(cause, services.ErrAddressNotWhitelisted) && !errors.Is(cause, services.ErrPayoutsFrozen) &&
		!errors.As(cause, &validation) && !errors.As(cause, &insufficient) && !errors.As(cause, &limit) {
		return CreateResult{}, cause
	}
	existing, found, err := s.findByIdempotencyKey(ctx, in.MerchantID, in.IdempotencyKey)
	switch {
	case err != nil:
		return CreateResult{}, err
	case !found && errors.Is(cause, errKeyBound):
		return CreateResult{}, services.ErrIdempotencyInUse
	case !found:
		return CreateResult{}, cause
	case !bytes.Equal(existing.RequestHash, requestHash(in)):
		return CreateResult{}, services.ErrIdempotencyMismatch
	}
	return CreateResult{Withdrawal: existing, Replayed: true}, nil
}

const maxIdemKeyLength = 255

func validateIdempotencyKey(key string) error {
	if len(key) > maxIdemKeyLength {
		return services.Invalid(services.CodeInvalidRequest, "Idempotency-Key", "Idempotency-Key must be 1 to %d printable ASCII characters", maxIdemKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return services.Invalid(services.CodeInvalidRequest, "Idempotency-Key", "Idempotency-Key must be 1 to %d printable ASCII characters", maxIdemKeyLength)
		}
	}
	return nil
}

// requestHash fingerprints what a merchant asked for, normalised (an amount sent as
// 0.001 or "0.0010" is the same request), to tell a replay from a reused key.
func requestHash(in CreateInput) []byte {
	canonical, _ := json.Marshal([]string{in.Token, in.Amount.String(), in.Address, in.Network, string(in.Metadata)})
	sum := sha256.Sum256(canonical)
	return sum[:]
}
