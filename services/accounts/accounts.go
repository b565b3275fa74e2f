// Package accounts owns who may call the API and how money enters a balance:
// merchants, their API keys and authentication (with a per-instance key cache and its
// revocation feed), and admin credits.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/audit"
	"github.com/paycore/withdrawals/services/ledger"
)

// Service owns merchants, their API keys and admin credits: the admin side of who may
// call the API and how money enters a balance.
type Service struct {
	db     *dbtx.DB
	clock  services.Clock
	ledger *ledger.Ledger
	tokens *catalog.Catalog

	// lastTouched throttles last_used_at writes to one per key per minute, so
	// authentication does not add a write to every request.
	lastTouched sync.Map // key id -> time.Time

	// keys caches authenticated keys (keycache.go), so a request does not pay a
	// database round trip to learn who is calling. Revoking a key here drops it at once;
	// other instances drop it within cacheTTL.
	keys     sync.Map // SHA-256 of key -> cachedKey
	cacheTTL time.Duration
	revoked  atomic.Pointer[revocations] // the revocation feed's latest answer
}

// New wires the account use cases; authenticated keys are kept in memory for keyTTL
// (AUTH_CACHE_TTL), 0 for none.
func New(db *dbtx.DB, clock services.Clock, l *ledger.Ledger, tokens *catalog.Catalog, keyTTL time.Duration) *Service {
	return &Service{db: db, clock: clock, ledger: l, tokens: tokens, cacheTTL: keyTTL}
}

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
func (s *Service) Authenticate(ctx context.Context, plaintext string) (Principal, error) {
	if !ids.IsAPIKeyShaped(plaintext) {
		return Principal{}, services.ErrUnauthorized
	}
	hash := ids.HashAPIKey(plaintext)
	cacheKey := string(hash)
	now := s.clock.Now()
	if c, ok := s.keys.Load(cacheKey); ok && s.trusted(c.(cachedKey), cacheKey, now) {
		p := c.(cachedKey).principal
		return p, s.touch(ctx, p.KeyID, now)
	}
	var key models.APIKey
	res := s.db.Gorm(ctx).Where("key_hash = ? AND revoked_at IS NULL", hash).Limit(1).Find(&key)
	if res.Error != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		s.keys.Delete(cacheKey)
		return Principal{}, services.ErrUnauthorized
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
func (s *Service) touch(ctx context.Context, keyID string, now time.Time) error {
	if last, ok := s.lastTouched.Load(keyID); ok && now.Sub(last.(time.Time)) < lastUsedResolution {
		return nil
	}
	s.lastTouched.Store(keyID, now)
	if err := s.db.Gorm(ctx).Model(&models.APIKey{}).Where("id = ?", keyID).UpdateColumn("last_used_at", now).Error; err != nil {
		return fmt.Errorf("authenticate: touch key: %w", err)
	}
	return nil
}

// CreateMerchant registers a merchant and opens its ledger accounts for every token.
// actor is who asks (an admin key id, or "cli:<user>"), for the audit trail.
func (s *Service) CreateMerchant(ctx context.Context, name, actor string) (models.Merchant, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return models.Merchant{}, services.Invalid(services.CodeInvalidRequest, "name", "name must be 1 to 200 characters")
	}
	m := models.Merchant{ID: ids.Merchant(), Name: name, CreatedAt: s.clock.Now()}
	tokens, err := s.tokens.Tokens(ctx)
	if err != nil {
		return m, err
	}
	symbols := make([]string, len(tokens))
	for i, t := range tokens {
		symbols[i] = t.Symbol
	}
	err = s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		if err := tx.Create(&m).Error; err != nil {
			return fmt.Errorf("insert merchant: %w", err)
		}
		if err := ledger.OpenAccounts(tx, m.ID, symbols, m.CreatedAt); err != nil {
			return err
		}
		return audit.Record(tx.DB, actor, audit.MerchantCreate, "merchant", m.ID, map[string]any{"name": m.Name}, m.CreatedAt)
	})
	return m, err
}

// ListMerchants pages through merchants, newest first.
func (s *Service) ListMerchants(ctx context.Context, limit, offset int) (services.Page[models.Merchant], error) {
	page := services.Page[models.Merchant]{Limit: limit, Offset: offset, Items: []models.Merchant{}}
	db := s.db.Gorm(ctx).Model(&models.Merchant{})
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
func (s *Service) CreateMerchantKey(ctx context.Context, merchantID, name string, scope models.Scope, actor string) (IssuedKey, error) {
	if err := s.merchantExists(ctx, s.db.Gorm(ctx), merchantID); err != nil {
		return IssuedKey{}, err
	}
	return s.createKey(ctx, &merchantID, models.RoleMerchant, name, scope, actor)
}

// CreateAdminKey issues an admin API key (the CLI's admin create-key); a read key may
// look at everything and change nothing.
func (s *Service) CreateAdminKey(ctx context.Context, name string, scope models.Scope, actor string) (IssuedKey, error) {
	return s.createKey(ctx, nil, models.RoleAdmin, name, scope, actor)
}

func (s *Service) createKey(ctx context.Context, merchantID *string, role models.Role, name string, scope models.Scope, actor string) (IssuedKey, error) {
	if len(name) > 200 {
		return IssuedKey{}, services.Invalid(services.CodeInvalidRequest, "name", "name must be at most 200 characters")
	}
	switch scope {
	case "":
		scope = models.ScopeReadWrite
	case models.ScopeRead, models.ScopeReadWrite:
	default:
		return IssuedKey{}, services.Invalid(services.CodeInvalidRequest, "scope", "scope must be read or read_write")
	}
	plaintext := ids.APIKeySecret()
	key := models.APIKey{
		ID: ids.APIKey(), MerchantID: merchantID, Role: role, Scope: scope, Name: name,
		KeyHash: ids.HashAPIKey(plaintext), KeyPrefix: plaintext[:10], CreatedAt: s.clock.Now(),
	}
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		if err := tx.Create(&key).Error; err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		details := map[string]any{"role": key.Role, "scope": key.Scope, "name": key.Name, "prefix": key.KeyPrefix}
		if merchantID != nil {
			details["merchantId"] = *merchantID
		}
		return audit.Record(tx.DB, actor, audit.KeyCreate, "api_key", key.ID, details, key.CreatedAt)
	})
	if err != nil {
		return IssuedKey{}, err
	}
	return IssuedKey{APIKey: key, Plaintext: plaintext}, nil
}

// ListMerchantKeys returns a merchant's keys (never their secrets).
func (s *Service) ListMerchantKeys(ctx context.Context, merchantID string) ([]models.APIKey, error) {
	if err := s.merchantExists(ctx, s.db.Gorm(ctx), merchantID); err != nil {
		return nil, err
	}
	keys := []models.APIKey{}
	if err := s.db.Gorm(ctx).Where("merchant_id = ?", merchantID).Order("created_at DESC, id").Find(&keys).Error; err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// RevokeKey revokes an API key at once; revoking a revoked key changes nothing.
func (s *Service) RevokeKey(ctx context.Context, id, actor string) (models.APIKey, error) {
	var key models.APIKey
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		now := s.clock.Now()
		res := tx.Model(&models.APIKey{}).Where("id = ? AND revoked_at IS NULL", id).UpdateColumn("revoked_at", now)
		if res.Error != nil {
			return fmt.Errorf("revoke api key: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			if err := audit.Record(tx.DB, actor, audit.KeyRevoke, "api_key", id, map[string]any{}, now); err != nil {
				return err
			}
		}
		res = tx.Where("id = ?", id).Limit(1).Find(&key)
		if res.Error != nil {
			return fmt.Errorf("read api key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("api key %s: %w", id, services.ErrNotFound)
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
func (s *Service) RevokeKeysNamed(ctx context.Context, name, actor string) (int, error) {
	var ids []string
	if err := s.db.Gorm(ctx).Model(&models.APIKey{}).Where("name = ? AND revoked_at IS NULL", name).Pluck("id", &ids).Error; err != nil {
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
	Balance   ledger.Balance
	CreatedAt time.Time
}

// Credit adds funds to a merchant's available balance through a ledger journal
// (external deposits -> merchant available), audited.
func (s *Service) Credit(ctx context.Context, in CreditInput) (Credit, error) {
	in.Reference = strings.TrimSpace(in.Reference)
	if in.Reference == "" || len(in.Reference) > 200 {
		return Credit{}, services.Invalid(services.CodeInvalidRequest, "reference", "reference must be 1 to 200 characters")
	}
	tok, found, err := s.tokens.Token(ctx, in.Token)
	if err != nil {
		return Credit{}, err
	}
	if !found {
		return Credit{}, services.Invalid(services.CodeUnsupportedToken, "token", "Token %q is not supported", in.Token)
	}
	in.Token = tok.Symbol
	if !in.Amount.IsPositive() || !in.Amount.Equal(in.Amount.Truncate(tok.Decimals)) {
		return Credit{}, services.Invalid(services.CodeInvalidAmount, "amount", "amount must be greater than 0 with at most %d decimal places for %s", tok.Decimals, tok.Symbol)
	}
	now := s.clock.Now()
	journal := ledger.Credit(in.MerchantID, in.Token, in.Amount, in.Reference, in.Actor, now)
	out := Credit{JournalID: journal.ID, Input: in, CreatedAt: now}
	err = s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		if err := s.merchantExists(ctx, tx.DB, in.MerchantID); err != nil {
			return err
		}
		if err := ledger.OpenAccounts(tx, in.MerchantID, []string{in.Token}, now); err != nil {
			return err
		}
		err := s.ledger.Apply(ctx, tx, []ledger.Journal{journal})
		if isDuplicate(err) {
			return &services.ConflictError{Message: fmt.Sprintf("Credit reference %q was already used for this merchant", in.Reference)}
		}
		if err != nil {
			return err
		}
		if err := audit.Record(tx.DB, in.Actor, audit.Credit, "merchant", in.MerchantID, map[string]any{
			"journalId": out.JournalID, "token": in.Token, "amount": in.Amount.String(), "reference": in.Reference}, now); err != nil {
			return err
		}
		return tx.Raw(`SELECT token, available, pending FROM balances WHERE merchant_id = ? AND token = ?`, in.MerchantID, in.Token).Scan(&out.Balance).Error
	})
	return out, err
}

// isDuplicate reports a unique violation (the credit reference's index).
func isDuplicate(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

func (s *Service) merchantExists(ctx context.Context, db *gorm.DB, merchantID string) error {
	var n int64
	if err := db.WithContext(ctx).Model(&models.Merchant{}).Where("id = ?", merchantID).Count(&n).Error; err != nil {
		return fmt.Errorf("find merchant: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("merchant %s: %w", merchantID, services.ErrNotFound)
	}
	return nil
}

// MerchantByName finds the oldest merchant with this exact name.
func (s *Service) MerchantByName(ctx context.Context, name string) (models.Merchant, bool, error) {
	var m models.Merchant
	res := s.db.Gorm(ctx).Where("name = ?", name).Order("created_at, id").Limit(1).Find(&m)
	if res.Error != nil {
		return m, false, fmt.Errorf("find merchant: %w", res.Error)
	}
	return m, res.RowsAffected == 1, nil
}

// Merchant finds a merchant by id.
func (s *Service) Merchant(ctx context.Context, id string) (models.Merchant, bool, error) {
	var m models.Merchant
	res := s.db.Gorm(ctx).Where("id = ?", id).Limit(1).Find(&m)
	if res.Error != nil {
		return m, false, fmt.Errorf("find merchant: %w", res.Error)
	}
	return m, res.RowsAffected == 1, nil
}
