package ratelimit_test

import (
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/ratelimit"
)

func TestTokenBuckets(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 12, 19, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	general := ratelimit.New(3, clock)
	strict := ratelimit.New(2, clock)

	for i, want := range []bool{true, true, false} {
		d := ratelimit.TakeAll("k", general, strict)
		if d.Allowed != want {
			t.Fatalf("withdrawal %d: allowed %v", i, d.Allowed)
		}
		if !want && (d.RetryAfter != 30*time.Second || d.Limit != 2 || d.Remaining != 0) {
			t.Errorf("refusal: %+v", d)
		}
	}
	// The refused withdrawal spent nothing of the general limit: one request is left.
	if d := ratelimit.TakeAll("k", general); !d.Allowed || d.Remaining != 0 || d.Limit != 3 {
		t.Errorf("general after refusal: %+v", d)
	}
	if d := ratelimit.TakeAll("k", general); d.Allowed || d.RetryAfter != 20*time.Second {
		t.Errorf("general exhausted: %+v", d)
	}
	if d := ratelimit.TakeAll("other", general, strict); !d.Allowed {
		t.Error("another key shares the bucket")
	}
	now = now.Add(30 * time.Second) // one strict token and 1.5 general ones are back
	if d := ratelimit.TakeAll("k", general, strict); !d.Allowed {
		t.Errorf("after the window: %+v", d)
	}
	if d := ratelimit.TakeAll("k", ratelimit.New(0, clock)); !d.Allowed {
		t.Error("a zero limit refuses")
	}
}
