package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/groupcommit"
	"github.com/paycore/withdrawals/internal/recovered"
)

// Every call is answered exactly once with its own item's result, never more than
// Writers groups are written at once, and groups form under load.
func TestEveryCallIsAnsweredOnceWithItsOwnResult(t *testing.T) {
	var active, peak, groups, biggest atomic.Int64
	g := groupcommit.New(func(_ context.Context, items []int) ([]int, error) {
		if n := active.Add(1); n > peak.Load() {
			peak.Store(n)
		}
		defer active.Add(-1)
		groups.Add(1)
		if n := int64(len(items)); n > biggest.Load() {
			biggest.Store(n)
		}
		time.Sleep(200 * time.Microsecond) // a commit, so that calls queue meanwhile
		out := make([]int, len(items))
		for i, v := range items {
			out[i] = v * 2
		}
		return out, nil
	}, groupcommit.Config{Writers: 2, MaxGroup: 16})
	defer g.Close()

	const callers, perCaller = 64, 50
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perCaller {
				v := c*1000 + i
				if got, err := g.Do(v); err != nil || got != 2*v {
					t.Errorf("Do(%d) = %d, %v", v, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Errorf("%d groups written at once, want at most 2", peak.Load())
	}
	if biggest.Load() < 2 || biggest.Load() > 16 {
		t.Errorf("largest group %d: want groups to form, bounded by 16", biggest.Load())
	}
	if groups.Load() >= callers*perCaller {
		t.Errorf("%d groups for %d calls: nothing was grouped", groups.Load(), callers*perCaller)
	}
}

// A group the database refused as a whole is written again item by item, so only the
// bad item fails; any other error is every item's answer; a panic fails its group only.
func TestRefusedGroupsAreSplitAndPanicsContained(t *testing.T) {
	refused := errors.New("refused")
	lost := errors.New("connection lost")
	release := make(chan struct{})
	g := groupcommit.New(func(_ context.Context, items []string) ([]string, error) {
		<-release
		for _, it := range items {
			switch {
			case it == "bad" && len(items) > 1:
				return nil, refused
			case it == "bad":
				return nil, lost
			case it == "panic":
				panic("bug")
			}
		}
		return items, nil
	}, groupcommit.Config{Writers: 1, MaxGroup: 8, Alone: func(err error) bool { return errors.Is(err, refused) }})
	defer g.Close()

	results := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, item := range []string{"a", "bad", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := g.Do(item)
			mu.Lock()
			results[item] = err
			mu.Unlock()
		}()
	}
	time.Sleep(50 * time.Millisecond) // let all three queue behind the blocked writer
	close(release)
	wg.Wait()
	if results["a"] != nil || results["b"] != nil || !errors.Is(results["bad"], lost) {
		t.Fatalf("results %v", results)
	}
	_, err := g.Do("panic")
	var p *recovered.Error
	if !errors.As(err, &p) {
		t.Fatalf("a panicking write gave %v", err)
	}
	if got, err := g.Do("after"); err != nil || got != "after" {
		t.Fatalf("the writer did not survive the panic: %q %v", got, err)
	}
}
