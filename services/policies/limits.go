// Package policies holds the rules an admin sets on payouts beyond fees: velocity limits
// per merchant and token (with a platform default). The limits are enforced where
// withdrawals are recorded, by SQL (limit_breach, migrations/00014), with the balance
// locked; this package sets and reads them.
package policies

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/audit"
	"github.com/paycore/withdrawals/services/pricing"
)

// Limit is one row of limits: the platform's default for a token (MerchantID nil) or a
// merchant's own, which replaces the default whole. A nil amount is no limit.
type Limit struct {
	MerchantID    *string
	Token         string
	PerWithdrawal *decimal.Decimal
	PerDay        *decimal.Decimal
	PerWeek       *decimal.Decimal
	UpdatedAt     time.Time
	UpdatedBy     string
}

// TableName is the limits' table.
func (Limit) TableName() string { return "payout_limits" }

// Service sets and lists limits.
type Service struct {
	db      *dbtx.DB
	clock   services.Clock
	pricing *pricing.Service
}

// New wires the limits.
func New(db *dbtx.DB, clock services.Clock, p *pricing.Service) *Service {
	return &Service{db: db, clock: clock, pricing: p}
}

// Set replaces the limits of a token for a merchant (or the default, merchantID ""),
// and records the change with its old and new values.
func (s *Service) Set(ctx context.Context, l Limit, actor string) (Limit, error) {
	tok, err := s.pricing.Token(ctx, l.Token)
	if err != nil {
		return l, err
	}
	l.Token = tok.Symbol
	for field, v := range map[string]*decimal.Decimal{"perWithdrawal": l.PerWithdrawal, "perDay": l.PerDay, "perWeek": l.PerWeek} {
		if v != nil && (!v.IsPositive() || !v.Equal(v.Truncate(tok.Decimals))) {
			return l, services.Invalid(services.CodeInvalidRequest, field, "%s must be a positive amount with at most %d decimal places, or null for no limit", field, tok.Decimals)
		}
	}
	if l.MerchantID != nil && *l.MerchantID == "" {
		l.MerchantID = nil
	}
	l.UpdatedAt, l.UpdatedBy = s.clock.Now(), actor
	err = s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		if l.MerchantID != nil {
			var n int64
			if err := tx.Raw(`SELECT count(*) FROM merchants WHERE id = ?`, *l.MerchantID).Scan(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("merchant %s: %w", *l.MerchantID, services.ErrNotFound)
			}
		}
		var old []Limit
		if err := scope(tx.DB, l.MerchantID, l.Token).Find(&old).Error; err != nil {
			return fmt.Errorf("read limits: %w", err)
		}
		if err := scope(tx.DB, l.MerchantID, l.Token).Delete(&Limit{}).Error; err != nil {
			return fmt.Errorf("replace limits: %w", err)
		}
		if err := tx.Create(&l).Error; err != nil {
			return fmt.Errorf("save limits: %w", err)
		}
		var oldValue any
		if len(old) == 1 {
			oldValue = old[0]
		}
		target := "default:" + l.Token
		if l.MerchantID != nil {
			target = *l.MerchantID + ":" + l.Token
		}
		return audit.Record(tx.DB, actor, audit.LimitSet, "payout_limit", target, map[string]any{"old": oldValue, "new": l}, l.UpdatedAt)
	})
	return l, err
}

// scope selects the row of one merchant (nil: the default) and token.
func scope(db *gorm.DB, merchantID *string, token string) *gorm.DB {
	q := db.Model(&Limit{}).Where("token = ?", token)
	if merchantID == nil {
		return q.Where("merchant_id IS NULL")
	}
	return q.Where("merchant_id = ?", *merchantID)
}

// List returns the defaults and every merchant's own limits (or one merchant's, with
// the defaults), defaults first.
func (s *Service) List(ctx context.Context, merchantID string) ([]Limit, error) {
	q := s.db.Gorm(ctx).Order("merchant_id NULLS FIRST, token")
	if merchantID != "" {
		q = q.Where("merchant_id IS NULL OR merchant_id = ?", merchantID)
	}
	out := []Limit{}
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list limits: %w", err)
	}
	return out, nil
}
