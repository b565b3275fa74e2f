package services

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// Sentinel errors of the use cases. Handlers map them to the contract's error codes.
var (
	ErrNotFound            = errors.New("not found")
	ErrUnauthorized        = errors.New("invalid or revoked API key")
	ErrIdempotencyMismatch = errors.New("idempotency key was already used with a different request body")
	ErrIdempotencyInUse    = errors.New("a request with this idempotency key is still in progress")
	// ErrAddressNotWhitelisted: enforcement is on and the address is not a usable entry.
	ErrAddressNotWhitelisted = errors.New("address is not whitelisted")
	// ErrPayoutsFrozen: an operator froze the merchant's payouts.
	ErrPayoutsFrozen = errors.New("the merchant's payouts are frozen")
	// ErrSelfApproval: the key deciding on a withdrawal is the key that created it.
	ErrSelfApproval = errors.New("a withdrawal cannot be approved by the key that created it")
)

// ErrorCode is a machine-readable reason for a refused input, named as in the API contract.
type ErrorCode string

const (
	CodeInvalidRequest   ErrorCode = "INVALID_REQUEST"
	CodeInvalidAddress   ErrorCode = "INVALID_ADDRESS"
	CodeInvalidAmount    ErrorCode = "INVALID_AMOUNT"
	CodeUnsupportedToken ErrorCode = "UNSUPPORTED_TOKEN"
	// CodeUnsupportedNetwork: the token's network exists but is turned off for now.
	CodeUnsupportedNetwork ErrorCode = "UNSUPPORTED_NETWORK"
	// CodeDuplicateReference: a mass payout item's reference is already another's.
	CodeDuplicateReference ErrorCode = "DUPLICATE_REFERENCE"
)

// ValidationError is an input the use case refuses; nothing was changed.
type ValidationError struct {
	Code    ErrorCode
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Message }

// Invalid is a ValidationError.
func Invalid(code ErrorCode, field, format string, args ...any) error {
	return &ValidationError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// InsufficientBalanceError: the merchant's available balance does not cover the amount.
type InsufficientBalanceError struct {
	Token     string
	Available decimal.Decimal
	Requested decimal.Decimal
}

func (e *InsufficientBalanceError) Error() string {
	return fmt.Sprintf("Available balance: %s %s, Requested: %s %s", e.Available, e.Token, e.Requested, e.Token)
}

// LimitExceededError: the withdrawal would break one of the merchant's limits
// (per_withdrawal, per_day: the last 24 hours, per_week: the last 7 days).
type LimitExceededError struct {
	Token     string
	Kind      string
	Limit     decimal.Decimal
	Remaining decimal.Decimal
}

func (e *LimitExceededError) Error() string {
	if e.Kind == "per_withdrawal" {
		return fmt.Sprintf("A single withdrawal may carry at most %s %s", e.Limit, e.Token)
	}
	window := map[string]string{"per_day": "24-hour", "per_week": "7-day"}[e.Kind]
	return fmt.Sprintf("This withdrawal would exceed the %s limit of %s %s: %s %s remains", window, e.Limit, e.Token, e.Remaining, e.Token)
}

// InvalidStateError: the withdrawal's status does not allow the requested change.
type InvalidStateError struct {
	ID      string
	Status  string
	Message string
}

func (e *InvalidStateError) Error() string { return e.Message }

// ConflictError: the request collides with an existing record (for example a reused
// credit reference); nothing was changed. Code is the contract's error code
// (INVALID_STATE when empty).
type ConflictError struct{ Code, Message string }

func (e *ConflictError) Error() string { return e.Message }
