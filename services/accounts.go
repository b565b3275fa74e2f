package services

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
)

// Accounts owns merchants, their API keys and admin credits: the admin side of who
// may call the API and how money enters a balance.
type Accounts struct {
	db    *gorm.DB
	clock Clock

	// lastTouched throttles last_used_at writes to one per key per minute, so
	// authentication does not add a write to every request.
	lastTouched sync.Map // key id -> time.Time

	// keys caches authenticated keys (keycache.go), so a request does not pay a
	// database round trip to learn who is calling. Revoking a key here drops it at once;
	// other instances drop it within cacheTTL.
	keys     sync.Map // SHA-256 of key -> cachedKey
	cacheTTL time.Duration
	revoked  atomic.Pointer[revocations] // the revocation feed's latest answer

	balanceWrites
}

// NewAccounts wires the account use cases, without a key cache.
func NewAccounts(db *gorm.DB, clock Clock) *Accounts { return &Accounts{db: db, clock: clock} }

// CacheKeys keeps authenticated keys in memory for ttl (AUTH_CACHE_TTL); 0 disables it.
func (s *Accounts) CacheKeys(ttl time.Duration) { s.cacheTTL = ttl }

// Principal is who is calling: an API key and what it belongs to.
type Principal struct {
	KeyID      string
	Role       models.Role
	Scope      models.Scope
	MerchantID string // empty for admin keys
}

const lastUsedResolution = time.Minute

// Authenticate resolves a plaintext API key. Unknown and revoked keys are ErrUnauthorized;
// a string that is not shaped like a key is refused before any lookup.
func (s *Accounts) Authenticate(ctx context.Context, plaintext string) (Principal, error) {
	if !isAPIKeyShaped(plaintext) {
		return Principal{}, ErrUnauthorized
	}
	hash := HashAPIKey(plaintext)
	cacheKey := string(hash)
	now := s.clock.now()
	if c, ok := s.keys.Load(cacheKey); ok && s.trusted(c.(cachedKey), cacheKey, now) {
		p := c.(cachedKey).principal
		return p, s.touch(ctx, p.KeyID, now)
	}
	var key models.APIKey
	res := s.db.WithContext(ctx).Where("key_hash = ? AND revoked_at IS NULL", hash).Limit(1).Find(&key)
	if res.Error != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		s.keys.Delete(cacheKey)
		return Principal{}, ErrUnauthorized
	}
	p := Principal{KeyID: key.ID, Role: key.Role, Scope: key.Scope}
	if key.MerchantID != nil {
		p.MerchantID = *key.MerchantID
	}
	if s.cacheTTL > 0 {
		s.keys.Store(cacheKey, cachedKey{principal: p, fetched: now})
	}
	return p, s.touch(ctx, key.ID, now)
}

// touch records that the key was used, at most once per lastUsedResolution.
func (s *Accounts) touch(ctx context.Context, keyID string, now time.Time) error {
	if last, ok := s.lastTouched.Load(keyID); ok && now.Sub(last.(time.Time)) < lastUsedResolution {
		return nil
	}
	s.lastTouched.Store(keyID, now)
	if err := s.db.WithContext(ctx).Model(&models.APIKey{}).Where("id = ?", keyID).UpdateColumn("last_used_at", now).Error; err != nil {
		return fmt.Errorf("authenticate: touch key: %w", err)
	}
	return nil
}

// CreateMerchant registers a merchant and opens its ledger accounts for every token.
// actor is who asks (an admin key id, or "cli:<user>"), for the audit trail.
func (s *Accounts) CreateMerchant(ctx context.Context, name, actor string) (models.Merchant, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return models.Merchant{}, invalid(CodeInvalidRequest, "name", "name must be 1 to 200 characters")
	}
	m := models.Merchant{ID: newMerchantID(), Name: name, CreatedAt: s.clock.now()}
	err := s.balanceTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Create(&m).Error; err != nil {
			return fmt.Errorf("insert merchant: %w", err)
		}
		var tokens []string
		if err := tx.Model(&models.Token{}).Order("symbol").Pluck("symbol", &tokens).Error; err != nil {
			return fmt.Errorf("list tokens: %w", err)
		}
		if err := openMerchantAccounts(tx, m.ID, tokens, m.CreatedAt); err != nil {
			return err
		}
		return recordAction(tx, actor, ActionMerchantCreate, "merchant", m.ID, map[string]any{"name": m.Name}, m.CreatedAt)
	})
	return m, err
}

// ListMerchants pages through merchants, newest first.
func (s *Accounts) ListMerchants(ctx context.Context, limit, offset int) (Page[models.Merchant], error) {
	page := Page[models.Merchant]{Limit: limit, Offset: offset, Items: []models.Merchant{}}
	db := s.db.WithContext(ctx).Model(&models.Merchant{})
	if err := db.Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count merchants: %w", err)
	}
	if err := db.Order("created_at DESC, id DESC").Limit(limit).Offset(offset).Find(&page.Items).Error; err != nil {
		return page, fmt.Errorf("list merchants: %w", err)
	}
	return page, nil
}

// IssuedKey is a new API key with its plaintext, which exists only in this value.
type IssuedKey struct {
	models.APIKey
	Plaintext string
}

// CreateMerchantKey issues an API key for a merchant; scope empty means read_write.
func (s *Accounts) CreateMerchantKey(ctx context.Context, merchantID, name string, scope models.Scope, actor string) (IssuedKey, error) {
	if err := s.merchantExists(ctx, s.db, merchantID); err != nil {
		return IssuedKey{}, err
	}
	return s.createKey(ctx, &merchantID, models.RoleMerchant, name, scope, actor)
}

// CreateAdminKey issues an admin API key (the CLI's admin create-key); a read key may
// look at everything and change nothing.
func (s *Accounts) CreateAdminKey(ctx context.Context, name string, scope models.Scope, actor string) (IssuedKey, error) {
	return s.createKey(ctx, nil, models.RoleAdmin, name, scope, actor)
}

func (s *Accounts) createKey(ctx context.Context, merchantID *string, role models.Role, name string, scope models.Scope, actor string) (IssuedKey, error) {
	if len(name) > 200 {
		return IssuedKey{}, invalid(CodeInvalidRequest, "name", "name must be at most 200 characters")
	}
	switch scope {
	case "":
		scope = models.ScopeReadWrite
	case models.ScopeRead, models.ScopeReadWrite:
	default:
		return IssuedKey{}, invalid(CodeInvalidRequest, "scope", "scope must be read or read_write")
	}
	plaintext := newAPIKeySecret()
	key := models.APIKey{
		ID: newAPIKeyID(), MerchantID: merchantID, Role: role, Scope: scope, Name: name,
		KeyHash: HashAPIKey(plaintext), KeyPrefix: plaintext[:10], CreatedAt: s.clock.now(),
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&key).Error; err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		details := map[string]any{"role": key.Role, "scope": key.Scope, "name": key.Name, "prefix": key.KeyPrefix}
		if merchantID != nil {
			details["merchantId"] = *merchantID
		}
		return recordAction(tx, actor, ActionKeyCreate, "api_key", key.ID, details, key.CreatedAt)
	})
	if err != nil {
		return IssuedKey{}, err
	}
	return IssuedKey{APIKey: key, Plaintext: plaintext}, nil
}

// ListMerchantKeys returns a merchant's keys (never their secrets).
func (s *Accounts) ListMerchantKeys(ctx context.Context, merchantID string) ([]models.APIKey, error) {
	if err := s.merchantExists(ctx, s.db, merchantID); err != nil {
		return nil, err
	}
	keys := []models.APIKey{}
	if err := s.db.WithContext(ctx).Where("merchant_id = ?", merchantID).Order("created_at DESC, id").Find(&keys).Error; err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// RevokeKey revokes an API key at once; revoking a revoked key changes nothing.
func (s *Accounts) RevokeKey(ctx context.Context, id, actor string) (models.APIKey, error) {
	var key models.APIKey
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.clock.now()
		res := tx.Model(&models.APIKey{}).Where("id = ? AND revoked_at IS NULL", id).UpdateColumn("revoked_at", now)
		if res.Error != nil {
			return fmt.Errorf("revoke api key: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			if err := recordAction(tx, actor, ActionKeyRevoke, "api_key", id, map[string]any{}, now); err != nil {
				return err
			}
		}
		res = tx.Where("id = ?", id).Limit(1).Find(&key)
		if res.Error != nil {
			return fmt.Errorf("read api key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("api key %s: %w", id, ErrNotFound)
		}
		return nil
	})
	if err == nil {
		s.keys.Delete(string(key.KeyHash))
	}
	return key, err
}

// RevokeKeysNamed revokes every live key with this exact name (the demo's keys of an
// earlier start), each audited, and returns how many.
func (s *Accounts) RevokeKeysNamed(ctx context.Context, name, actor string) (int, error) {
	var ids []string
	if err := s.db.WithContext(ctx).Model(&models.APIKey{}).Where("name = ? AND revoked_at IS NULL", name).Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("find keys: %w", err)
	}
	for _, id := range ids {
		if _, err := s.RevokeKey(ctx, id, actor); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// CreditInput funds a merchant: money arriving from outside (a deposit settled elsewhere).
type CreditInput struct {
	MerchantID string
	Token      string
	Amount     decimal.Decimal
	Reference  string // unique per merchant: a retried credit is refused, never paid twice
	Actor      string
}

// Credit is a posted credit and the balance after it.
type Credit struct {
	JournalID string
	Input     CreditInput
	Balance   TokenBalance
	CreatedAt time.Time
}

// Credit adds funds to a merchant's available balance through a ledger journal
// (external deposits -> merchant available).
func (s *Accounts) Credit(ctx context.Context, in CreditInput) (Credit, error) {
	in.Reference = strings.TrimSpace(in.Reference)
	if in.Reference == "" || len(in.Reference) > 200 {
		return Credit{}, invalid(CodeInvalidRequest, "reference", "reference must be 1 to 200 characters")
	}
	tok, err := loadPricedToken(ctx, s.db, in.Token)
	if err != nil {
		return Credit{}, err
	}
	in.Token = tok.Symbol
	if !in.Amount.IsPositive() || !in.Amount.Equal(in.Amount.Truncate(tok.Decimals)) {
		return Credit{}, invalid(CodeInvalidAmount, "amount", "amount must be greater than 0 with at most %d decimal places for %s", tok.Decimals, tok.Symbol)
	}
	now := s.clock.now()
	out := Credit{JournalID: newJournalID(), Input: in, CreatedAt: now}
	err = s.balanceTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := s.merchantExists(ctx, tx, in.MerchantID); err != nil {
			return err
		}
		if err := openMerchantAccounts(tx, in.MerchantID, []string{in.Token}, now); err != nil {
			return err
		}
		ref, actor := in.Reference, in.Actor
		err := postJournal(tx, models.LedgerJournal{
			ID: out.JournalID, Kind: models.JournalCredit, MerchantID: in.MerchantID, Token: in.Token,
			Reference: &ref, CreatedBy: &actor, CreatedAt: now,
		}, []posting{
			{externalDepositsAccount(in.Token), in.Amount.Neg()},
			{merchantAvailableAccount(in.MerchantID, in.Token), in.Amount},
		})
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return &ConflictError{Message: fmt.Sprintf("Credit reference %q was already used for this merchant", in.Reference)}
		}
		if err != nil {
			return err
		}
		if err := creditFunds(tx, in.MerchantID, in.Token, in.Amount, now); err != nil {
			return err
		}
		if err := recordAction(tx, in.Actor, ActionCredit, "merchant", in.MerchantID, map[string]any{
			"journalId": out.JournalID, "token": in.Token, "amount": in.Amount.String(), "reference": in.Reference}, now); err != nil {
			return err
		}
		return tx.Raw(`SELECT token, available, pending FROM balances WHERE merchant_id = ? AND token = ?`, in.MerchantID, in.Token).Scan(&out.Balance).Error
	})
	return out, err
}

func (s *Accounts) merchantExists(ctx context.Context, db *gorm.DB, merchantID string) error {
	var n int64
	if err := db.WithContext(ctx).Model(&models.Merchant{}).Where("id = ?", merchantID).Count(&n).Error; err != nil {
		return fmt.Errorf("find merchant: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("merchant %s: %w", merchantID, ErrNotFound)
	}
	return nil
}

// MerchantByName finds the oldest merchant with this exact name.
func (s *Accounts) MerchantByName(ctx context.Context, name string) (models.Merchant, bool, error) {
	var m models.Merchant
	res := s.db.WithContext(ctx).Where("name = ?", name).Order("created_at, id").Limit(1).Find(&m)
	if res.Error != nil {
		return m, false, fmt.Errorf("find merchant: %w", res.Error)
	}
	return m, res.RowsAffected == 1, nil
}
