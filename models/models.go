// Package models holds the GORM mappings of the tables created by migrations/.
// It has no behaviour beyond small helpers: the schema itself (constraints, indexes)
// lives in SQL, and every rule about changing these rows lives in services.
package models

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/datatypes"
)

// Merchant is a customer of the platform that pays out from its balance.
type Merchant struct {
	ID        string
	Name      string
	CreatedAt time.Time
	// PayoutsFrozenAt is set while an operator has frozen the merchant's payouts.
	PayoutsFrozenAt     *time.Time
	PayoutsFrozenReason *string
}

// Role says what an API key may do.
type Role string

const (
	RoleMerchant Role = "merchant" // a merchant's own withdrawals and balance
	RoleAdmin    Role = "admin"    // the /api/admin routes
)

// Scope says whether a merchant key may act or only read.
type Scope string

const (
	ScopeReadWrite Scope = "read_write" // everything the role allows
	ScopeRead      Scope = "read"       // GET routes only: lists, balance, deliveries
)

// APIKey stores only the SHA-256 hash of a key; the plaintext is shown once at creation.
type APIKey struct {
	ID         string
	MerchantID *string
	Role       Role
	Scope      Scope
	Name       string
	KeyHash    []byte
	KeyPrefix  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Token is a withdrawable asset: one balance per merchant, on one or more networks.
type Token struct {
	Symbol string `gorm:"primaryKey"`
	// Network is the token's default network (token_networks holds them all).
	Network  string
	Decimals int32
	Enabled  bool
}

// TokenNetwork is a network a token can be withdrawn on, with what depends on it.
type TokenNetwork struct {
	Token         string `gorm:"primaryKey"`
	Network       string `gorm:"primaryKey"`
	AddressFormat string
	MinWithdrawal decimal.Decimal
	// DustLimit is the smallest output the chain relays: a net amount below it could
	// never be paid, so creation refuses it.
	DustLimit           decimal.Decimal
	ConfirmationSeconds int
	// Enabled false turns the network off for new withdrawals (UNSUPPORTED_NETWORK).
	Enabled bool
}

// Balance is the materialised sum of a merchant's available and pending ledger accounts.
type Balance struct {
	MerchantID string `gorm:"primaryKey"`
	Token      string `gorm:"primaryKey"`
	Available  decimal.Decimal
	Pending    decimal.Decimal
	UpdatedAt  time.Time
}

// LedgerAccountKind names the five kinds of ledger account per token.
type LedgerAccountKind string

const (
	AccountMerchantAvailable LedgerAccountKind = "merchant_available"
	AccountMerchantPending   LedgerAccountKind = "merchant_pending"
	AccountPlatformFees      LedgerAccountKind = "platform_fees"
	AccountExternalPayouts   LedgerAccountKind = "external_payouts"
	AccountExternalDeposits  LedgerAccountKind = "external_deposits"
)

// LedgerAccount is one account of the double-entry ledger.
type LedgerAccount struct {
	ID         string
	Kind       LedgerAccountKind
	MerchantID *string
	Token      string
	CreatedAt  time.Time
}

// JournalKind says why money moved.
type JournalKind string

const (
	JournalCredit            JournalKind = "credit"             // admin funds a merchant
	JournalWithdrawalLock    JournalKind = "withdrawal_lock"    // available -> pending at creation
	JournalWithdrawalRelease JournalKind = "withdrawal_release" // pending -> available on cancel or failure
	JournalWithdrawalSettle  JournalKind = "withdrawal_settle"  // pending -> payouts + fees on confirmation
)

// LedgerJournal groups entries that sum to zero.
type LedgerJournal struct {
	ID           string
	Kind         JournalKind
	MerchantID   string
	Token        string
	WithdrawalID *string
	Reference    *string
	CreatedBy    *string
	CreatedAt    time.Time
}

// LedgerEntry is one signed movement on one account. Entries are never updated or deleted.
type LedgerEntry struct {
	ID        string
	JournalID string
	AccountID string
	Amount    decimal.Decimal
	CreatedAt time.Time
}

// Withdrawal is a merchant's payout request and its fee snapshot.
type Withdrawal struct {
	ID                  string
	MerchantID          string
	Token               string
	Network             string
	Amount              decimal.Decimal
	FeeBase             decimal.Decimal
	FeeMarkupRate       decimal.Decimal
	FeeMarkupAmount     decimal.Decimal
	FeeTotal            decimal.Decimal
	NetAmount           decimal.Decimal
	Address             string
	Status              WithdrawalStatus
	Metadata            datatypes.JSON
	IdempotencyKey      *string
	RequestHash         []byte
	ProviderReference   *string
	TxHash              *string
	BatchID             *string
	FailureReason       *string
	CreatedByKey        *string // the API key that created it
	ApprovalsRequired   int     // approvals it waits for in pending_approval (0: none)
	ApprovalReason      *string // why it waited: "amount" or "new_address"
	BatchRequestID      *string // the mass payout it came in
	Reference           *string // the merchant's reference of a mass payout's item
	CreatedAt           time.Time
	UpdatedAt           time.Time
	EstimatedCompletion time.Time
	ProcessingAt        *time.Time
	ConfirmedAt         *time.Time
	FailedAt            *time.Time
	CancelledAt         *time.Time
}

// BatchRequest is a merchant's mass payout: many withdrawals created by one request.
type BatchRequest struct {
	ID             string
	MerchantID     string
	Mode           string // all_or_nothing or partial
	IdempotencyKey *string
	RequestHash    []byte
	ItemsReceived  int
	ItemsCreated   int
	Outcomes       datatypes.JSON // the answer per item, in the request's order
	CreatedByKey   *string
	CreatedAt      time.Time
	CompletedAt    *time.Time // when its last item became final
}

// TableName is the batch requests' table.
func (BatchRequest) TableName() string { return "withdrawal_batch_requests" }

// FeeScheduleDefault is the scope of the schedule used by tokens without their own.
const FeeScheduleDefault = "default"

// FeeSchedule is the fee in force for a scope ("default" or a token symbol).
type FeeSchedule struct {
	Scope      string `gorm:"primaryKey"`
	BaseFee    decimal.Decimal
	MarkupRate decimal.Decimal
	Enabled    bool
	UpdatedAt  time.Time
	UpdatedBy  string
}

// TableName keeps GORM from spelling the initialism as "a_p_i_keys".
func (APIKey) TableName() string { return "api_keys" }

// BatchStatus is where a payout batch is; see migrations/00002_payouts.sql.
type BatchStatus string

const (
	BatchSubmitting  BatchStatus = "submitting"   // claimed; submission job pending or retrying
	BatchSubmitted   BatchStatus = "submitted"    // provider has it; outcomes being polled
	BatchCompleted   BatchStatus = "completed"    // every item confirmed or failed
	BatchNeedsReview BatchStatus = "needs_review" // ambiguity outlived the retry budget; an admin decides
)

// PayoutBatch is one provider submission of pending withdrawals in one token.
type PayoutBatch struct {
	ID                string
	Token             string
	Network           string
	Status            BatchStatus
	ItemCount         int
	TotalAmount       decimal.Decimal
	Provider          string
	ProviderReference *string
	Attempts          int
	LastError         *string
	ManualResolutions int // withdrawals an admin settled by hand; such a batch is never resubmitted
	CreatedAt         time.Time
	UpdatedAt         time.Time
	SubmittedAt       *time.Time
	CompletedAt       *time.Time
	FlaggedAt         *time.Time
}

// AdminAction is one audited manual intervention.
type AdminAction struct {
	ID         string
	Actor      string
	Action     string
	TargetType string
	TargetID   string
	Details    datatypes.JSON
	CreatedAt  time.Time
}

// StringList is a JSON array of strings in a jsonb column.
type StringList []string

// Scan implements sql.Scanner.
func (l *StringList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	case nil:
		*l = nil
		return nil
	default:
		return fmt.Errorf("StringList: cannot scan %T", src)
	}
	return json.Unmarshal(b, (*[]string)(l))
}

// Value implements driver.Valuer.
func (l StringList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

// WebhookEndpoint is a merchant's receiver URL and its signing secret(s).
type WebhookEndpoint struct {
	ID                      string
	MerchantID              string
	URL                     string
	Description             string
	Events                  StringList
	Secret                  string
	PreviousSecret          *string
	PreviousSecretExpiresAt *time.Time
	DisabledAt              *time.Time
	DisabledReason          *string
	FailingSince            *time.Time
	CreatedAt               time.Time
	DeletedAt               *time.Time
}

// WebhookEvent is one outbox row: the exact body every delivery of it sends.
type WebhookEvent struct {
	ID         string
	MerchantID string
	Type       string
	SubjectID  *string
	Payload    datatypes.JSON
	CreatedAt  time.Time
}

// DeliveryStatus is where a webhook delivery is.
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"   // queued or being retried
	DeliverySucceeded DeliveryStatus = "succeeded" // a 2xx was received
	DeliveryFailed    DeliveryStatus = "failed"    // retries exhausted, 410, or endpoint disabled
)

// WebhookDelivery is one event bound for one endpoint.
type WebhookDelivery struct {
	ID             string
	EventID        string
	EndpointID     string
	MerchantID     string
	EventType      string
	Status         DeliveryStatus
	Attempts       int
	LastHTTPStatus *int
	LastError      *string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    *time.Time
}

// WebhookAttempt is one HTTP request of a delivery.
type WebhookAttempt struct {
	ID          string
	DeliveryID  string
	AttemptedAt time.Time
	HTTPStatus  *int
	LatencyMs   int
	Error       *string
}

// WhitelistEntry is an address a merchant allows withdrawals to, once usable.
type WhitelistEntry struct {
	ID                string
	MerchantID        string
	Token             string
	Network           string
	Address           string
	NormalizedAddress string
	Label             string
	CreatedAt         time.Time
	UsableAt          time.Time
	DeletedAt         *time.Time
}
