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
	services.PageRequest
}

// List returns withdrawals matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter) (services.Page[models.Withdrawal], error) {
	page := services.Page[models.Withdrawal]{Limit: f.Limit, Offset: f.Offset, Items: []models.Withdrawal{}}
	owned := func() *gorm.DB {
		db := s.db.Gorm(ctx).Model(&models.Withdrawal{})
		if f.MerchantID != "" {
			db = db.Where("merchant_id = ?", f.MerchantID)
		}
		return db
	}
	rows := func() *gorm.DB {
		db := owned()
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
	if err := s.total(ctx, f, rows(), &page); err != nil {
		return page, err
	}
	if f.StartingAfter == "" && f.EndingBefore == "" && !page.TotalAtLeast && page.Total <= int64(f.Offset) {
		return page, nil // an exact total says the page is empty
	}
	if err := services.ReadPage(rows, owned, f.PageRequest, "one of your withdrawals", &page); err != nil {
		return page, fmt.Errorf("list withdrawals: %w", err)
	}
	return page, nil
}

// total answers a listing's total. By merchant, status, token and network it is the sum
// of the counts the writes keep (withdrawal_counts: exact, reconciled), whatever the
// history's size; other filters count matching rows, up to services.CountBound.
func (s *Service) total(ctx context.Context, f Filter, matching *gorm.DB, page *services.Page[models.Withdrawal]) error {
	if f.Since != nil || f.Before != nil || f.BatchRequestID != "" {
		return services.CountUpTo(matching, page)
	}
	q := s.db.Gorm(ctx).Table("withdrawal_counts").Select("COALESCE(sum(n), 0)")
	for _, c := range [][2]string{{"merchant_id", f.MerchantID}, {"status", string(f.Status)}, {"token", f.Token}, {"network", f.Network}} {
		if c[1] != "" {
			q = q.Where(c[0]+" = ?", c[1])
		}
	}
	if err := q.Scan(&page.Total).Error; err != nil {
		return fmt.Errorf("count withdrawals: %w", err)
	}
	return nil
}
