// Package policies holds the rules an admin sets on payouts beyond fees, per merchant
// and token with a platform default: velocity limits and approval rules. Both are
// enforced where withdrawals are recorded, by SQL (limit_breach, migrations/00014, with
// the balance locked; approval_hold, migrations/00015); this package sets and reads them.
package policies

import (
	"context"
	"fmt"
	"strings"
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
	err = replace(ctx, s, l.MerchantID, l.Token, &l, actor, l.UpdatedAt, audit.LimitSet, "payout_limit")
	return l, err
}

// RemoveLimits deletes a token's limits for a merchant (the platform's default applies
// again), or with merchantID empty the default, and records it.
func (s *Service) RemoveLimits(ctx context.Context, merchantID, token, actor string) error {
	return replace[Limit](ctx, s, merchantScope(merchantID), strings.ToUpper(token), nil, actor, s.clock.Now(), audit.LimitSet, "payout_limit")
}

// merchantScope is a merchant's id as a scope: nil for the platform's default.
func merchantScope(merchantID string) *string {
	if merchantID == "" {
		return nil
	}
	return &merchantID
}

// replace makes row the rules of a table (T's) for a merchant (nil: the default) and
// token, or with row nil deletes the merchant's own, and records the change with the
// old and new values, in one transaction.
func replace[T any](ctx context.Context, s *Service, merchantID *string, token string, row *T, actor string, now time.Time, action, targetType string) error {
	return s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		if merchantID != nil {
			var n int64
			if err := tx.Raw(`SELECT count(*) FROM merchants WHERE id = ?`, *merchantID).Scan(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("merchant %s: %w", *merchantID, services.ErrNotFound)
			}
		}
		var old []T
		if err := scope[T](tx.DB, merchantID, token).Find(&old).Error; err != nil {
			return fmt.Errorf("read %s: %w", targetType, err)
		}
		if err := scope[T](tx.DB, merchantID, token).Delete(new(T)).Error; err != nil {
			return fmt.Errorf("replace %s: %w", targetType, err)
		}
		if row == nil && len(old) == 0 {
			return fmt.Errorf("%s of %s: %w", targetType, token, services.ErrNotFound)
		}
		if row != nil {
			if err := tx.Create(row).Error; err != nil {
				return fmt.Errorf("save %s: %w", targetType, err)
			}
		}
		var oldValue any
		if len(old) == 1 {
			oldValue = old[0]
		}
		target := "default:" + token
		if merchantID != nil {
			target = *merchantID + ":" + token
		}
		return audit.Record(tx.DB, actor, action, targetType, target, map[string]any{"old": oldValue, "new": row}, now)
	})
}

// scope selects the row of T's table of one merchant (nil: the default) and token.
func scope[T any](db *gorm.DB, merchantID *string, token string) *gorm.DB {
	q := db.Model(new(T)).Where("token = ?", token)
	if merchantID == nil {
		return q.Where("merchant_id IS NULL")
	}
	return q.Where("merchant_id = ?", *merchantID)
}

// List returns the defaults and every merchant's own limits (or one merchant's, with
// the defaults), defaults first.
func (s *Service) List(ctx context.Context, merchantID string) ([]Limit, error) {
	return list[Limit](ctx, s, merchantID)
}

// list returns T's rows: the defaults, then every merchant's (or one merchant's).
func list[T any](ctx context.Context, s *Service, merchantID string) ([]T, error) {
	q := s.db.Gorm(ctx).Order("merchant_id NULLS FIRST, token")
	if merchantID != "" {
		q = q.Where("merchant_id IS NULL OR merchant_id = ?", merchantID)
	}
	out := []T{}
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return out, nil
}
