package withdrawals

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
)

// Get returns one of the merchant's withdrawals. Another merchant's id is ErrNotFound,
// so ids cannot be probed.
func (s *Service) Get(ctx context.Context, merchantID, id string) (models.Withdrawal, error) {
	var w models.Withdrawal
	res := s.db.Gorm(ctx).Where("id = ? AND merchant_id = ?", id, merchantID).Limit(1).Find(&w)
	if res.Error != nil {
		return w, fmt.Errorf("get withdrawal: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return w, fmt.Errorf("withdrawal %s: %w", id, services.ErrNotFound)
	}
	return w, nil
}

func (s *Service) findByIdempotencyKey(ctx context.Context, merchantID, key string) (models.Withdrawal, bool, error) {
	var w models.Withdrawal
	res := s.db.Gorm(ctx).Where("merchant_id = ? AND idempotency_key = ?", merchantID, key).Limit(1).Find(&w)
	if res.Error != nil {
		return w, false, fmt.Errorf("find idempotency key: %w", res.Error)
	}
	return w, res.RowsAffected == 1, nil
}

// Filter narrows a listing. MerchantID empty means every merchant (admin).
type Filter struct {
	MerchantID string
	Status     models.WithdrawalStatus
	Token      string
	Network    string
	// BatchRequestID: only the withdrawals of this mass payout
	BatchRequestID string
	Since          *time.Time // inclusive
	Before         *time.Time // exclusive
	Limit          int
	Offset         int
}

// List returns withdrawals matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter) (services.Page[models.Withdrawal], error) {
	page := services.Page[models.Withdrawal]{Limit: f.Limit, Offset: f.Offset, Items: []models.Withdrawal{}}
	q := func() *gorm.DB {
		db := s.db.Gorm(ctx).Model(&models.Withdrawal{})
		if f.MerchantID != "" {
			db = db.Where("merchant_id = ?", f.MerchantID)
		}
		if f.Status != "" {
			db = db.Where("status = ?", f.Status)
		}
		if f.Token != "" {
			db = db.Where("token = ?", f.Token)
		}
		if f.Network != "" {
			db = db.Where("network = ?", f.Network)
		}
		if f.BatchRequestID != "" {
			db = db.Where("batch_request_id = ?", f.BatchRequestID)
		}
		if f.Since != nil {
			db = db.Where("created_at >= ?", *f.Since)
		}
		if f.Before != nil {
			db = db.Where("created_at < ?", *f.Before)
		}
		return db
	}
	if err := q().Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count withdrawals: %w", err)
	}
	if page.Total > int64(f.Offset) {
		if err := q().Order("created_at DESC, id DESC").Limit(f.Limit).Offset(f.Offset).Find(&page.Items).Error; err != nil {
			return page, fmt.Errorf("list withdrawals: %w", err)
		}
	}
	return page, nil
}
