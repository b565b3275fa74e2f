package withdrawals

import (
	"context"
	"fmt"
	"slices"
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
	// StartingAfter and EndingBefore page by cursor (a withdrawal's id, at most one of
	// them, without Offset): the page of withdrawals just older, or just newer, than it.
	StartingAfter, EndingBefore string
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
	if err := s.total(ctx, f, q(), &page); err != nil {
		return page, err
	}
	if f.StartingAfter != "" || f.EndingBefore != "" {
		return s.keysetPage(ctx, f, q(), page)
	}
	if !page.TotalAtLeast && page.Total <= int64(f.Offset) {
		return page, nil // an exact total says the page is empty
	}
	if err := q().Order("created_at DESC, id DESC").Limit(f.Limit + 1).Offset(f.Offset).Find(&page.Items).Error; err != nil {
		return page, fmt.Errorf("list withdrawals: %w", err)
	}
	page.MoreKnown = true
	if page.More = len(page.Items) > f.Limit; page.More {
		page.Items = page.Items[:f.Limit]
	}
	return page, nil
}

// countBound is where a listing's total stops being counted row by row: filters the
// kept counts cannot answer (a date range, a mass payout) count up to it, and a total
// past it is a lower bound.
const countBound = 10_000

// total answers a listing's total. By merchant, status, token and network it is the sum
// of the counts the writes keep (withdrawal_counts: exact, reconciled), whatever the
// history's size; other filters count matching rows, up to countBound.
func (s *Service) total(ctx context.Context, f Filter, matching *gorm.DB, page *services.Page[models.Withdrawal]) error {
	if f.Since == nil && f.Before == nil && f.BatchRequestID == "" {
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
	if err := s.db.Gorm(ctx).Table("(?) AS m", matching.Select("1").Limit(countBound+1)).Count(&page.Total).Error; err != nil {
		return fmt.Errorf("count withdrawals: %w", err)
	}
	if page.Total > countBound {
		page.Total, page.TotalAtLeast = countBound, true
	}
	return nil
}

// keysetPage is the page next to a cursor, on the (created_at, id) order the listing's
// indexes keep: stable while new withdrawals arrive (none is skipped or repeated), and
// as cheap deep in the history as at its start.
func (s *Service) keysetPage(ctx context.Context, f Filter, q *gorm.DB, page services.Page[models.Withdrawal]) (services.Page[models.Withdrawal], error) {
	field, id, older := "startingAfter", f.StartingAfter, true
	if f.EndingBefore != "" {
		field, id, older = "endingBefore", f.EndingBefore, false
	}
	var cursor struct {
		CreatedAt time.Time
		ID        string
	}
	cq := s.db.Gorm(ctx).Model(&models.Withdrawal{}).Select("created_at, id").Where("id = ?", id)
	if f.MerchantID != "" {
		cq = cq.Where("merchant_id = ?", f.MerchantID)
	}
	res := cq.Limit(1).Find(&cursor)
	if res.Error != nil {
		return page, fmt.Errorf("list withdrawals: cursor: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return page, services.Invalid(services.CodeInvalidRequest, field, "%s must be the id of one of your withdrawals", field)
	}
	page.Keyset, page.MoreKnown = true, true
	if older {
		q = q.Where("(created_at, id) < (?, ?)", cursor.CreatedAt, cursor.ID).Order("created_at DESC, id DESC")
	} else {
		q = q.Where("(created_at, id) > (?, ?)", cursor.CreatedAt, cursor.ID).Order("created_at, id")
	}
	if err := q.Limit(f.Limit + 1).Find(&page.Items).Error; err != nil {
		return page, fmt.Errorf("list withdrawals: %w", err)
	}
	if page.More = len(page.Items) > f.Limit; page.More {
		page.Items = page.Items[:f.Limit]
	}
	if !older { // fetched oldest first; shown newest first, as every page is
		slices.Reverse(page.Items)
	}
	// The cursor itself lies beyond the page on the side it came from.
	page.Older, page.Newer = !older || page.More, older || page.More
	return page, nil
}
