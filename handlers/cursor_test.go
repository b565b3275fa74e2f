package handlers_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/apitest"
)

type cursorPage struct {
	Withdrawals []struct{ ID, Status string }
	Pagination  struct {
		Total                      int
		HasMore                    bool
		NextCursor, PreviousCursor *string
	}
}

func ids(p cursorPage) []string {
	out := make([]string, len(p.Withdrawals))
	for i, w := range p.Withdrawals {
		out[i] = w.ID
	}
	return out
}

// Cursor pages walk the whole history newest first, none skipped or repeated, even
// while new withdrawals arrive (some sharing a creation time); endingBefore walks back.
func TestCursorPaging(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now().Truncate(time.Second)
	env := apitest.New(t, func(o *apitest.Options) { o.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now } })
	mid, key := env.Merchant("Pages")
	env.Credit(mid, "USDT", "10000")
	var created []string // oldest first
	for i := range 25 {
		if i%3 == 0 { // every third shares the previous one's creation time: the id breaks the tie
			mu.Lock()
			now = now.Add(time.Second)
			mu.Unlock()
		}
		created = append(created, env.Withdraw(key, "USDT", "10", apitest.ETHAddress))
	}
	get := func(query string) (cursorPage, apitest.Response) {
		r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals?" + query, Key: key})
		var p cursorPage
		if r.Status == http.StatusOK {
			r.Decode(t, &p)
		}
		return p, r
	}

	first, _ := get("limit=10")
	if !first.Pagination.HasMore || first.Pagination.PreviousCursor != nil || *first.Pagination.NextCursor != first.Withdrawals[9].ID {
		t.Fatalf("first page: %+v", first.Pagination)
	}
	walked := ids(first)
	next := *first.Pagination.NextCursor
	mu.Lock()
	now = now.Add(time.Second) // the withdrawals made during the walk are strictly newer
	mu.Unlock()
	for pages := 0; next != ""; pages++ {
		// New withdrawals arriving meanwhile change nothing for older pages.
		env.Withdraw(key, "USDT", "10", apitest.ETHAddress)
		p, r := get("limit=10&startingAfter=" + next)
		if r.Status != http.StatusOK || pages > 5 {
			t.Fatalf("page after %s: %d %s", next, r.Status, r.Body)
		}
		if p.Pagination.PreviousCursor == nil || *p.Pagination.PreviousCursor != p.Withdrawals[0].ID {
			t.Errorf("a page after the first has a previous page: %+v", p.Pagination)
		}
		walked = append(walked, ids(p)...)
		next = ""
		if p.Pagination.HasMore {
			next = *p.Pagination.NextCursor
		} else if p.Pagination.NextCursor != nil {
			t.Errorf("the last page names a next one")
		}
	}
	// Newest first; among withdrawals created in the same instant, the greater id first.
	want := slices.Clone(created)
	slices.SortStableFunc(want, func(a, b string) int {
		ga, gb := slices.Index(created, a)/3, slices.Index(created, b)/3
		if ga != gb {
			return gb - ga
		}
		return strings.Compare(b, a)
	})
	if !slices.Equal(walked, want) {
		t.Fatalf("walked %d withdrawals %v\nwant %d %v", len(walked), walked, len(want), want)
	}

	// Back from the third page to the second.
	second, _ := get("limit=10&startingAfter=" + want[9])
	third, _ := get("limit=10&startingAfter=" + want[19])
	back, _ := get("limit=10&endingBefore=" + third.Withdrawals[0].ID)
	if !slices.Equal(ids(back), ids(second)) || !back.Pagination.HasMore || *back.Pagination.NextCursor != want[19] {
		t.Errorf("endingBefore: %v, want %v (%+v)", ids(back), ids(second), back.Pagination)
	}
	// Backwards from the newest of the first walk: the two withdrawals made during it.
	top, _ := get("limit=50&endingBefore=" + want[0])
	if len(top.Withdrawals) != 2 || top.Pagination.HasMore || top.Pagination.PreviousCursor != nil {
		t.Errorf("newest page: %d withdrawals, %+v", len(top.Withdrawals), top.Pagination)
	}
	// Filters apply to cursor pages.
	if p, r := get("status=pending&token=USDT&limit=5&startingAfter=" + want[0]); r.Status != http.StatusOK || len(p.Withdrawals) != 5 {
		t.Errorf("filtered cursor page: %d %s", r.Status, r.Body)
	}

	otherID, otherKey := env.Merchant("Other")
	env.Credit(otherID, "USDT", "100")
	foreign := env.Withdraw(otherKey, "USDT", "10", apitest.ETHAddress)
	for name, query := range map[string]string{
		"both cursors":       "startingAfter=" + want[0] + "&endingBefore=" + want[1],
		"cursor and offset":  "startingAfter=" + want[0] + "&offset=10",
		"cursor and page":    "endingBefore=" + want[0] + "&page=2",
		"unknown cursor":     "startingAfter=wth_0000000000000000",
		"not an id":          "startingAfter=wth-%27x",
		"another merchant's": "endingBefore=" + foreign,
	} {
		if _, r := get(query); r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}

// Totals by status, token and network come from the kept counts (exact as withdrawals
// move); a date range counts up to 10,000 and then says its total is a lower bound.
func TestListTotals(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Totals")
	env.Credit(mid, "USDT", "1000")
	first := env.Withdraw(key, "USDT", "10", apitest.ETHAddress)
	env.Withdraw(key, "USDT", "10", apitest.ETHAddress)
	env.Withdraw(key, "USDT", "10", apitest.TronAddress)
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals/" + first + "/cancel", Key: key})
	type totals struct {
		Pagination struct {
			Total      int
			TotalExact bool
			HasMore    bool
		}
		Withdrawals []struct{ ID string }
	}
	get := func(query string) totals {
		var out totals
		env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals?" + query, Key: key}).Decode(t, &out)
		return out
	}
	for query, want := range map[string]int{"": 3, "status=cancelled": 1, "status=pending": 2, "token=USDT&network=tron": 1,
		"status=pending&network=ethereum": 1, "status=confirmed": 0} {
		if got := get(query); got.Pagination.Total != want || !got.Pagination.TotalExact {
			t.Errorf("%q: total %d (exact %v), want %d", query, got.Pagination.Total, got.Pagination.TotalExact, want)
		}
	}

	// A long history inside one day, written directly: only the date filter reads it.
	if err := env.DB.Exec(`
		INSERT INTO withdrawals (id, merchant_id, token, network, amount, fee_base, fee_markup_rate, fee_markup_amount, fee_total,
		                         net_amount, address, status, created_at, updated_at, estimated_completion)
		SELECT 'wth_hist' || lpad(g::text, 12, '0'), ?, 'USDT', 'ethereum', 10, 0, 0, 0, 0, 10, ?, 'confirmed',
		       timestamptz '2020-01-01 12:00:00+00' + g * interval '1 ms', now(), now()
		  FROM generate_series(1, 10005) g`, mid, apitest.ETHAddress).Error; err != nil {
		t.Fatal(err)
	}
	day := "startDate=2020-01-01&endDate=2020-01-01"
	if got := get(day + "&limit=100"); got.Pagination.Total != 10000 || got.Pagination.TotalExact || !got.Pagination.HasMore {
		t.Errorf("past the bound: %+v", got.Pagination)
	}
	if got := get(day + "&limit=100&offset=10000"); len(got.Withdrawals) != 5 || got.Pagination.HasMore {
		t.Errorf("the last page past the bound: %d withdrawals, %+v", len(got.Withdrawals), got.Pagination)
	}
	if got := get("startDate=2021-01-01"); got.Pagination.Total != 3 || !got.Pagination.TotalExact {
		t.Errorf("under the bound: %+v", got.Pagination)
	}
}

// The other lists of history page by the same cursors: a walk through the audit log
// by startingAfter meets every record once, newest first.
func TestAuditLogCursorWalk(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	for i := range 17 {
		env.Merchant(fmt.Sprintf("m%02d", i)) // one merchant.create record each
	}
	var all struct {
		Records    []struct{ ID string }
		Pagination struct{ Total int }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/audit-log?limit=100", Key: env.AdminKey}).Decode(t, &all)
	var walked []string
	path := "/api/admin/audit-log?limit=5"
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the walk does not end")
		}
		var p struct {
			Records    []struct{ ID string }
			Pagination struct {
				HasMore    bool
				NextCursor *string
			}
		}
		env.Do(apitest.Request{Method: http.MethodGet, Path: path, Key: env.AdminKey}).Decode(t, &p)
		for _, r := range p.Records {
			walked = append(walked, r.ID)
		}
		if !p.Pagination.HasMore {
			break
		}
		path = "/api/admin/audit-log?limit=5&startingAfter=" + *p.Pagination.NextCursor
	}
	want := make([]string, len(all.Records))
	for i, r := range all.Records {
		want[i] = r.ID
	}
	if len(want) < 17 || !slices.Equal(walked, want) {
		t.Errorf("walked %v\nwant %v", walked, want)
	}
	if res := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/audit-log?startingAfter=act_unknown", Key: env.AdminKey}); res.Status != http.StatusBadRequest {
		t.Errorf("unknown cursor: %d %s", res.Status, res.Body)
	}
}
