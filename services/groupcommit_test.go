package services

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The group commit's queueing on its own: every call is answered exactly once, never
// more than groupWriters groups are written at once, groups form under load, and no
// writer's place is left behind when the load stops.
func TestGroupCommitAnswersEveryCallOnce(t *testing.T) {
	var (
		active, peak, groups, written atomic.Int64
		answeredTwice                 atomic.Bool
	)
	g := newGroupCommit(func(_ context.Context, calls []*createCall) {
		if n := active.Add(1); n > peak.Load() {
			peak.Store(n)
		}
		groups.Add(1)
		time.Sleep(200 * time.Microsecond) // a commit, so that calls queue meanwhile
		for _, c := range calls {
			if c.answered() {
				answeredTwice.Store(true)
				continue
			}
			c.outcome = outcomeCreated
			written.Add(1)
			c.finish()
		}
		active.Add(-1)
	})

	const callers, perCaller = 64, 50
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perCaller {
				c := &createCall{}
				g.do(context.Background(), c)
				if c.outcome != outcomeCreated {
					t.Errorf("call returned before it was written: outcome %q", c.outcome)
					return
				}
			}
		}()
	}
	wg.Wait()

	if answeredTwice.Load() {
		t.Fatal("a call was written twice")
	}
	if got := written.Load(); got != callers*perCaller {
		t.Fatalf("written %d calls, want %d", got, callers*perCaller)
	}
	if p := peak.Load(); p > groupWriters {
		t.Fatalf("%d groups written at once, at most %d allowed", p, groupWriters)
	}
	if n := groups.Load(); n >= callers*perCaller {
		t.Fatalf("%d groups for %d calls: concurrent calls never shared a commit", n, callers*perCaller)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running != 0 || len(g.queue) != 0 {
		t.Fatalf("after the load: %d writers, %d queued; want none", g.running, len(g.queue))
	}
}

// A lone call is written at once by its own goroutine, in a group of one.
func TestGroupCommitLoneCallIsWrittenAlone(t *testing.T) {
	var sizes []int
	g := newGroupCommit(func(_ context.Context, calls []*createCall) {
		sizes = append(sizes, len(calls))
		for _, c := range calls {
			c.finish()
		}
	})
	for range 3 {
		g.do(context.Background(), &createCall{})
	}
	if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != 1 || sizes[2] != 1 {
		t.Fatalf("group sizes %v, want [1 1 1]", sizes)
	}
}
