package handlers

import (
	"errors"
	"net/http"
	"testing"
)

// FuzzParseListFilter: any query either is refused with a validation error or yields
// a filter within bounds.
func FuzzParseListFilter(f *testing.F) {
	f.Add("pending", "btc", "20", "0", "", "2024-12-01", "2024-12-31")
	f.Add("CONFIRMED", "USDT", "100", "", "3", "2024-12-19T10:30:00Z", "")
	f.Add("x' OR 1=1--", "'; DROP TABLE x", "-1", "99999999999999999999", "0", "yesterday", "2024-13-01")
	f.Fuzz(func(t *testing.T, status, token, limit, offset, page, start, end string) {
		got, err := parseListFilter(listParams{Status: status, Token: token, Limit: limit, Offset: offset, Page: page, StartDate: start, EndDate: end})
		if err != nil {
			var api *apiError
			if !errors.As(err, &api) || api.StatusCode != http.StatusBadRequest || api.Code != "INVALID_REQUEST" {
				t.Fatalf("not a 400 INVALID_REQUEST: %T %v", err, err)
			}
			return
		}
		if got.Limit < 1 || got.Limit > 100 || got.Offset < 0 || got.Offset > 1_000_000+100 {
			t.Fatalf("out of bounds: %+v", got)
		}
		if got.Since != nil && got.Before != nil && !got.Since.Before(*got.Before) {
			t.Fatalf("empty range accepted: %+v", got)
		}
	})
}
