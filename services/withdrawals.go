package services

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
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/metrics"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/address"
)

// Clock returns the current time; tests pass a fixed or stepping clock.
type Clock func() time.Time

// now is the clock's time at Postgres precision, so what a response shows equals what
// a later read returns.
func (c Clock) now() time.Time { return c().UTC().Truncate(time.Microsecond) }

// Withdrawals owns the merchant-facing withdrawal use cases.
type Withdrawals struct {
	db            *gorm.DB
	addresses     *address.Validator
	clock         Clock
	batchInterval time.Duration
	outbox        *Outbox
	catalog       *Catalog
	group         *batcher[*createCall]
	meter         *metrics.Metrics
	balanceWrites
}

// NewWithdrawals wires the withdrawal use cases. batchInterval is how often the payout
// batcher runs; it feeds the estimatedCompletion of new withdrawals.
func NewWithdrawals(db *gorm.DB, addresses *address.Validator, clock Clock, batchInterval time.Duration, outbox *Outbox) *Withdrawals {
	s := &Withdrawals{db: db, addresses: addresses, clock: clock, batchInterval: batchInterval, outbox: outbox}
	s.group = newGroupCommit(s.writeGroup)
	return s
}

// UseMetrics records each group commit's size and duration (nil records nothing).
func (s *Withdrawals) UseMetrics(m *metrics.Metrics) { s.meter = m }

// UseCatalog prices withdrawals from a shared token cache (see Catalog).
func (s *Withdrawals) UseCatalog(c *Catalog) { s.catalog = c }

// CreateInput is a merchant's withdrawal request.
type CreateInput struct {
	MerchantID     string
	Token          string
	Amount         decimal.Decimal
	Address        string
	Network        string          // optional
	Metadata       json.RawMessage // optional JSON object
	IdempotencyKey string          // optional
}

// CreateResult is the withdrawal, and whether it is a replay of an earlier request with
// the same idempotency key.
type CreateResult struct {
	Withdrawal models.Withdrawal
	Replayed   bool
}

// Metadata limits: enough for order ids and customer references, small enough that a
// merchant cannot use withdrawals as blob storage.
const (
	maxMetadataBytes = 4096
	maxMetadataDepth = 5
	maxIdemKeyLength = 255
)

// errIdempotencyConflict: the key is already bound to a withdrawal (an earlier request,
// a concurrent one that committed first, or an earlier request of the same group).
var errIdempotencyConflict = errors.New("idempotency key already bound")

// Create validates, prices and records a withdrawal, locking its amount in the same
// transaction. With an idempotency key, a repeated request returns the withdrawal the
// key is bound to instead of creating a second one.
func (s *Withdrawals) Create(ctx context.Context, in CreateInput) (CreateResult, error) {
	if in.IdempotencyKey != "" {
		if err := validateIdempotencyKey(in.IdempotencyKey); err != nil {
			return CreateResult{}, err
		}
	}
	metadata, err := canonicalMetadata(in.Metadata)
	if err != nil {
		return CreateResult{}, err
	}
	in.Metadata = metadata
	in.Token = strings.ToUpper(in.Token)
	in.Network = strings.ToLower(in.Network)

	w, err := s.create(ctx, in)
	if err == nil || in.IdempotencyKey == "" {
		return CreateResult{Withdrawal: w}, err
	}
	// The key may already be bound: a finished earlier request (the conflict), or an
	// earlier success that today's rules would refuse (a disabled token, a spent balance).
	// Either way the bound withdrawal decides.
	var validation *ValidationError
	var insufficient *InsufficientBalanceError
	if !errors.Is(err, errIdempotencyConflict) && !errors.Is(err, ErrAddressNotWhitelisted) && !errors.As(err, &validation) && !errors.As(err, &insufficient) {
		return CreateResult{}, err
	}
	existing, found, lerr := s.findByIdempotencyKey(ctx, in.MerchantID, in.IdempotencyKey)
	if lerr != nil {
		return CreateResult{}, lerr
	}
	if !found {
		if errors.Is(err, errIdempotencyConflict) {
			return CreateResult{}, ErrIdempotencyInUse
		}
		return CreateResult{}, err
	}
	if !bytes.Equal(existing.RequestHash, requestHash(in)) {
		return CreateResult{}, ErrIdempotencyMismatch
	}
	return CreateResult{Withdrawal: existing, Replayed: true}, nil
}

func (s *Withdrawals) create(ctx context.Context, in CreateInput) (models.Withdrawal, error) {
	call, err := s.prepare(ctx, in)
	if err != nil {
		return models.Withdrawal{}, err
	}
	if err := s.group.do(ctx, call); err != nil {
		return models.Withdrawal{}, err
	}
	return call.result()
}

// prepare checks and prices a request and builds everything its group will write.
func (s *Withdrawals) prepare(ctx context.Context, in CreateInput) (*createCall, error) {
	tok, err := s.catalog.token(ctx, s.db, in.Token)
	if err != nil {
		return nil, err
	}
	if in.Network != "" && in.Network != tok.Network {
		return nil, invalid(CodeInvalidRequest, "network", "Network %q is not supported for %s (supported: %s)", in.Network, tok.Symbol, tok.Network)
	}
	quote, err := price(tok, in.Amount)
	if err != nil {
		return nil, err
	}
	if err := s.addresses.Validate(tok.AddressFormat, in.Address); err != nil {
		return nil, invalid(CodeInvalidAddress, "address", "Invalid %s address: %v", tok.Symbol, err)
	}

	now := s.clock.now()
	w := models.Withdrawal{
		ID:                  newWithdrawalID(),
		MerchantID:          in.MerchantID,
		Token:               tok.Symbol,
		Network:             tok.Network,
		Amount:              quote.Gross,
		FeeBase:             quote.BaseFee,
		FeeMarkupRate:       quote.MarkupRate,
		FeeMarkupAmount:     quote.MarkupAmount,
		FeeTotal:            quote.TotalFee,
		NetAmount:           quote.Net,
		Address:             in.Address,
		Status:              models.StatusPending,
		CreatedAt:           now,
		UpdatedAt:           now,
		EstimatedCompletion: now.Add(s.batchInterval + time.Duration(tok.ConfirmationSeconds)*time.Second),
	}
	if len(in.Metadata) > 0 {
		w.Metadata = []byte(in.Metadata)
	}
	if in.IdempotencyKey != "" {
		key := in.IdempotencyKey
		w.IdempotencyKey = &key
		w.RequestHash = requestHash(in)
	}

	evt, err := newEvent(w.MerchantID, EventWithdrawalPending, w.ID, eventData(w), now)
	if err != nil {
		return nil, err
	}
	return &createCall{w: w, evt: evt, normalizedAddress: address.Normalize(tok.AddressFormat, w.Address)}, nil
}

func (s *Withdrawals) findByIdempotencyKey(ctx context.Context, merchantID, key string) (models.Withdrawal, bool, error) {
	var w models.Withdrawal
	res := s.db.WithContext(ctx).Where("merchant_id = ? AND idempotency_key = ?", merchantID, key).Limit(1).Find(&w)
	if res.Error != nil {
		return w, false, fmt.Errorf("find idempotency key: %w", res.Error)
	}
	return w, res.RowsAffected == 1, nil
}

// Get returns one of the merchant's withdrawals. Another merchant's id is ErrNotFound,
// so ids cannot be probed.
func (s *Withdrawals) Get(ctx context.Context, merchantID, id string) (models.Withdrawal, error) {
	var w models.Withdrawal
	res := s.db.WithContext(ctx).Where("id = ? AND merchant_id = ?", id, merchantID).Limit(1).Find(&w)
	if res.Error != nil {
		return w, fmt.Errorf("get withdrawal: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return w, fmt.Errorf("withdrawal %s: %w", id, ErrNotFound)
	}
	return w, nil
}

// Cancel moves a pending withdrawal to cancelled and returns its amount to available.
func (s *Withdrawals) Cancel(ctx context.Context, merchantID, id string) (models.Withdrawal, error) {
	var w models.Withdrawal
	err := s.balanceTx(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND merchant_id = ?", id, merchantID).Limit(1).Find(&w)
		if res.Error != nil {
			return fmt.Errorf("get withdrawal: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("withdrawal %s: %w", id, ErrNotFound)
		}
		if w.Status != models.StatusPending {
			return &InvalidStateError{ID: w.ID, Status: string(w.Status),
				Message: fmt.Sprintf("Withdrawal %s is %s; only pending withdrawals can be cancelled", w.ID, w.Status)}
		}
		return transition(ctx, tx, s.outbox, &w, change{to: models.StatusCancelled, actor: "merchant"}, s.clock.now())
	})
	return w, err
}

func validateIdempotencyKey(key string) error {
	if len(key) > maxIdemKeyLength {
		return invalid(CodeInvalidRequest, "Idempotency-Key", "Idempotency-Key must be 1 to %d printable ASCII characters", maxIdemKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return invalid(CodeInvalidRequest, "Idempotency-Key", "Idempotency-Key must be 1 to %d printable ASCII characters", maxIdemKeyLength)
		}
	}
	return nil
}

// canonicalMetadata checks that metadata is a small JSON object and re-encodes it with
// sorted keys, so equal objects hash equally for idempotency.
func canonicalMetadata(raw json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if len(trimmed) > maxMetadataBytes {
		return nil, invalid(CodeInvalidRequest, "metadata", "metadata must be at most %d bytes of JSON", maxMetadataBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, invalid(CodeInvalidRequest, "metadata", "metadata must be a JSON object")
	}
	if depth(obj) > maxMetadataDepth {
		return nil, invalid(CodeInvalidRequest, "metadata", "metadata may nest at most %d levels", maxMetadataDepth)
	}
	if n, ok := badMetadataNumber(obj); ok {
		return nil, invalid(CodeInvalidRequest, "metadata", "metadata number %.50s must be a plain decimal of at most %d characters, without exponent; send it as a string", n, maxMetadataNumber)
	}
	// Written without HTML escapes: "<" stays one byte instead of six.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, invalid(CodeInvalidRequest, "metadata", "metadata must be valid JSON")
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// maxMetadataNumber bounds a metadata number's text: a 128-bit integer fits.
const maxMetadataNumber = 40

// badMetadataNumber finds a number the service could not give back as it was written,
// at the size it was written: PostgreSQL keeps 1e131071 in a few bytes and writes it out
// as 131,072 digits, so a small request could make every read of it megabytes long.
func badMetadataNumber(v any) (string, bool) {
	switch t := v.(type) {
	case map[string]any:
		for _, child := range t {
			if n, bad := badMetadataNumber(child); bad {
				return n, true
			}
		}
	case []any:
		for _, child := range t {
			if n, bad := badMetadataNumber(child); bad {
				return n, true
			}
		}
	case json.Number:
		if len(t) > maxMetadataNumber || strings.ContainsAny(string(t), "eE") {
			return string(t), true
		}
	}
	return "", false
}

func depth(v any) int {
	deepest := 0
	switch t := v.(type) {
	case map[string]any:
		for _, child := range t {
			deepest = max(deepest, depth(child))
		}
	case []any:
		for _, child := range t {
			deepest = max(deepest, depth(child))
		}
	default:
		return 0
	}
	return deepest + 1
}

// requestHash fingerprints what a merchant asked for, normalised (an amount sent as
// 0.001 or "0.0010" is the same request), to tell a replay from a reused key.
func requestHash(in CreateInput) []byte {
	canonical, _ := json.Marshal([]string{in.Token, in.Amount.String(), in.Address, in.Network, string(in.Metadata)})
	sum := sha256.Sum256(canonical)
	return sum[:]
}
