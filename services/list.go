package services

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
)

// ListQuery is GET /api/withdrawals' query string, as received.
type ListQuery struct {
	Status, Token, Limit, Offset, Page, StartDate, EndDate string
}

// ListFilter is a validated ListQuery. MerchantID empty means every merchant (admin).
type ListFilter struct {
	MerchantID string
	Status     models.WithdrawalStatus
	Token      string
	Since      *time.Time // inclusive
	Before     *time.Time // exclusive
	Limit      int
	Offset     int
}

// Page is one page of a listing and the total number of matches.
type Page[T any] struct {
	Items  []T
	Total  int64
	Limit  int
	Offset int
}

// HasMore reports whether another page follows.
func (p Page[T]) HasMore() bool { return int64(p.Offset+len(p.Items)) < p.Total }

const (
	defaultLimit = 20
	maxLimit     = 100
	maxOffset    = 1_000_000
)

// ParseListFilter validates listing parameters: status (any case) and token must be
// known names, limit 1..100 (default 20), offset 0..1,000,000 or a 1-based page, and
// dates in ISO 8601 (a date alone covers that whole day).
func ParseListFilter(q ListQuery) (ListFilter, error) {
	f := ListFilter{Limit: defaultLimit}
	if q.Status != "" {
		f.Status = models.WithdrawalStatus(strings.ToLower(q.Status))
		if !isStatus(f.Status) {
			return f, invalid(CodeInvalidRequest, "status", "status must be one of %s", statusNames())
		}
	}
	if q.Token != "" {
		f.Token = strings.ToUpper(q.Token)
		if len(f.Token) > 16 || strings.ContainsFunc(f.Token, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) {
			return f, invalid(CodeInvalidRequest, "token", "token must be a token symbol such as BTC")
		}
	}
	var err error
	if f.Limit, err = intParam("limit", q.Limit, defaultLimit, 1, maxLimit); err != nil {
		return f, err
	}
	if q.Offset != "" && q.Page != "" {
		return f, invalid(CodeInvalidRequest, "page", "use either offset or page, not both")
	}
	if f.Offset, err = intParam("offset", q.Offset, 0, 0, maxOffset); err != nil {
		return f, err
	}
	if q.Page != "" {
		page, err := intParam("page", q.Page, 1, 1, maxOffset/f.Limit+1)
		if err != nil {
			return f, err
		}
		f.Offset = (page - 1) * f.Limit
	}
	f.Since, f.Before, err = ParseDateRange(q.StartDate, q.EndDate)
	return f, err
}

func intParam(name, raw string, def, lo, hi int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, invalid(CodeInvalidRequest, name, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// dateParam reads an RFC 3339 timestamp or a YYYY-MM-DD date. As an end bound a date
// means the end of that day (UTC), so endDate=2024-12-19 includes the 19th.
func dateParam(name, raw string, end bool) (*time.Time, error) {
	if raw == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		if end {
			t = t.Add(time.Microsecond) // an exact end timestamp is inclusive
		}
		return &t, nil
	}
	t, err := time.Parse(time.DateOnly, raw)
	if err != nil {
		return nil, invalid(CodeInvalidRequest, name, "%s must be an ISO 8601 date (2024-12-19) or timestamp (2024-12-19T10:30:00Z)", name)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return &t, nil
}

func isStatus(s models.WithdrawalStatus) bool {
	for _, known := range models.WithdrawalStatuses {
		if s == known {
			return true
		}
	}
	return false
}

func statusNames() string {
	names := make([]string, len(models.WithdrawalStatuses))
	for i, s := range models.WithdrawalStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// List returns withdrawals matching f, newest first.
func (s *Withdrawals) List(ctx context.Context, f ListFilter) (Page[models.Withdrawal], error) {
	page := Page[models.Withdrawal]{Limit: f.Limit, Offset: f.Offset, Items: []models.Withdrawal{}}
	q := func() *gorm.DB {
		db := s.db.WithContext(ctx).Model(&models.Withdrawal{})
		if f.MerchantID != "" {
			db = db.Where("merchant_id = ?", f.MerchantID)
		}
		if f.Status != "" {
			db = db.Where("status = ?", f.Status)
		}
		if f.Token != "" {
			db = db.Where("token = ?", f.Token)
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
