package services

import (
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Page is one page of a listing and the total number of matches.
type Page[T any] struct {
	Items  []T
	Total  int64
	Limit  int
	Offset int
	// TotalAtLeast: Total is a lower bound (a listing that stops counting at a bound).
	TotalAtLeast bool
	// MoreKnown: the listing looked one item past the page, and More says whether
	// another page follows in the direction of travel.
	MoreKnown, More bool
	// Keyset: the page was paged by cursor; Older and Newer say whether items lie beyond
	// its last and its first item.
	Keyset       bool
	Older, Newer bool
}

// HasMore reports whether another page follows.
func (p Page[T]) HasMore() bool {
	if p.MoreKnown {
		return p.More
	}
	return int64(p.Offset+len(p.Items)) < p.Total
}

// Carry returns p's paging with other items: a page read as rows, returned as views
// of them.
func Carry[T, U any](p Page[T], items []U) Page[U] {
	return Page[U]{Items: items, Total: p.Total, Limit: p.Limit, Offset: p.Offset, TotalAtLeast: p.TotalAtLeast,
		MoreKnown: p.MoreKnown, More: p.More, Keyset: p.Keyset, Older: p.Older, Newer: p.Newer}
}

// PageRequest is where a page of a newest-first listing starts: an offset, or a cursor.
type PageRequest struct {
	Limit, Offset int
	// StartingAfter and EndingBefore name an item of the listing (at most one of them,
	// without Offset): the page is the items just older, or just newer, than it.
	StartingAfter, EndingBefore string
}

// CountBound is where a listing's total stops being counted row by row: a total past
// it is a lower bound (TotalAtLeast), so no request counts a whole history.
const CountBound = 10_000

// CountUpTo sets page.Total to the number of matching rows, counted up to CountBound.
func CountUpTo[T any](matching *gorm.DB, page *Page[T]) error {
	if err := matching.Session(&gorm.Session{NewDB: true}).Table("(?) AS m", matching.Select("1").Limit(CountBound+1)).
		Count(&page.Total).Error; err != nil {
		return fmt.Errorf("count: %w", err)
	}
	if page.Total > CountBound {
		page.Total, page.TotalAtLeast = CountBound, true
	}
	return nil
}

// ReadPage reads the page r asks for, newest first on (created_at, id), from rows: a
// filtered query on a table with those columns, whose indexes keep that order. By
// cursor, the page is a row-value comparison on the same order: stable while new rows
// arrive (none is skipped or repeated), and as cheap deep in the history as at its
// start. The cursor must be one of owned (the rows the caller may see, whatever the
// filter: a withdrawal whose status changed still marks its place); what names those
// rows in the error ("one of your withdrawals").
func ReadPage[T any](rows, owned func() *gorm.DB, r PageRequest, what string, page *Page[T]) error {
	page.MoreKnown = true
	q := rows()
	older := true
	if id := r.StartingAfter + r.EndingBefore; id != "" {
		field := "startingAfter"
		if r.EndingBefore != "" {
			field, older = "endingBefore", false
		}
		var cursor struct {
			CreatedAt time.Time
			ID        string
		}
		res := owned().Select("created_at, id").Where("id = ?", id).Limit(1).Find(&cursor)
		if res.Error != nil {
			return fmt.Errorf("page cursor: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return Invalid(CodeInvalidRequest, field, "%s must be the id of %s", field, what)
		}
		page.Keyset = true
		if older {
			q = q.Where("(created_at, id) < (?, ?)", cursor.CreatedAt, cursor.ID)
		} else {
			q = q.Where("(created_at, id) > (?, ?)", cursor.CreatedAt, cursor.ID)
		}
	} else {
		q = q.Offset(r.Offset)
	}
	if older {
		q = q.Order("created_at DESC, id DESC")
	} else {
		q = q.Order("created_at, id")
	}
	// One row past the page says whether another follows; an exact total of an offset
	// page says it already, and a walk whose filter the index cannot find (a status
	// across merchants) stops at the last match instead of reading to the end.
	read := r.Limit + 1
	if !page.Keyset && !page.TotalAtLeast && page.Total >= 0 {
		read = int(min(int64(read), max(page.Total-int64(r.Offset), 0)))
	}
	if read == 0 {
		return nil
	}
	if err := q.Limit(read).Find(&page.Items).Error; err != nil {
		return fmt.Errorf("page: %w", err)
	}
	if page.More = len(page.Items) > r.Limit; page.More {
		page.Items = page.Items[:r.Limit]
	}
	if !older { // fetched oldest first; shown newest first, as every page is
		slices.Reverse(page.Items)
	}
	if page.Keyset {
		// The cursor itself lies beyond the page on the side it came from.
		page.Older, page.Newer = !older || page.More, older || page.More
	}
	return nil
}

// Children loads, in one query, the rows that belong to a page's items (a batch's
// withdrawals, a delivery's attempts) by parent id: column is the rows' reference to
// their parent, order their order within it, parent reads that reference back.
func Children[C any](db *gorm.DB, parents []string, column, order string, parent func(C) string) (map[string][]C, error) {
	out := make(map[string][]C, len(parents))
	if len(parents) == 0 {
		return out, nil
	}
	var rows []C
	if err := db.Where(column+" IN ?", parents).Order(order).Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[parent(r)] = append(out[parent(r)], r)
	}
	return out, nil
}
