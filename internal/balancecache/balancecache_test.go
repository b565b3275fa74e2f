package balancecache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestBalanceCache() (*Cache[string], *testClock) {
	clock := &testClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return New[string](time.Second, clock.Now), clock
}

func rows(available string) string { return available }

func cachedAvailable(c *Cache[string], merchantID string) string {
	held, ok, _ := c.Get(merchantID)
	if !ok {
		return "miss"
	}
	return held
}

func TestBalanceCacheKeepsRowsForTheTTL(t *testing.T) {
	c, clock := newTestBalanceCache()
	_, ok, ticket := c.Get("m1")
	if ok {
		t.Fatal("an empty cache answered")
	}
	c.Put("m1", rows("1"), ticket)
	clock.Advance(999 * time.Millisecond)
	if got := cachedAvailable(c, "m1"); got != "1" {
		t.Fatalf("within the TTL: %s", got)
	}
	clock.Advance(time.Millisecond)
	if got := cachedAvailable(c, "m1"); got != "miss" {
		t.Fatalf("at the TTL (counted from when the read was asked): %s", got)
	}
	if New[string](0, clock.Now) != nil {
		t.Fatal("a TTL of 0 must turn the cache off")
	}
	var off *Cache[string]
	off.Put("m1", rows("1"), ticket)
	off.Invalidate("m1")
	if _, ok, _ := off.Get("m1"); ok {
		t.Fatal("the cache that is off answered")
	}
}

func TestBalanceCacheDropsAReadThatRacedAnInvalidation(t *testing.T) {
	c, _ := newTestBalanceCache()
	// The read is asked, a change commits and invalidates, then the read comes back: its
	// rows may predate the change and must not be kept.
	_, _, ticket := c.Get("m1")
	c.Invalidate("m1")
	c.Put("m1", rows("1"), ticket)
	if got := cachedAvailable(c, "m1"); got != "miss" {
		t.Fatalf("a read older than the invalidation was cached: %s", got)
	}
	// A read asked after the invalidation is kept; another merchant's change does not
	// touch it.
	_, _, ticket = c.Get("m1")
	c.Invalidate("m2")
	c.Put("m1", rows("2"), ticket)
	if got := cachedAvailable(c, "m1"); got != "2" {
		t.Fatalf("a read newer than the invalidation: %s", got)
	}
	c.Invalidate("m1")
	if got := cachedAvailable(c, "m1"); got != "miss" {
		t.Fatalf("after an invalidation: %s", got)
	}
}

func TestBalanceCacheIsBoundedAndRemembersSweptInvalidations(t *testing.T) {
	c, clock := newTestBalanceCache()
	old := make(map[string]Ticket)
	for i := range 2 * maxMerchants {
		id := fmt.Sprintf("m%d", i)
		_, _, ticket := c.Get(id)
		old[id] = ticket
		c.Put(id, rows("1"), ticket)
	}
	count := func() (n int) {
		for i := range c.shards {
			n += len(c.shards[i].entries)
		}
		return n
	}
	if n := count(); n > maxMerchants {
		t.Fatalf("%d merchants cached, bound %d", n, maxMerchants)
	}
	// Once the entries expire they make room for others.
	clock.Advance(2 * time.Second)
	_, _, ticket := c.Get("late")
	c.Put("late", rows("3"), ticket)
	if got := cachedAvailable(c, "late"); got != "3" {
		t.Fatalf("after expiry: %s", got)
	}
	// An invalidated merchant swept away still refuses rows read before its invalidation.
	c.Invalidate("m0")
	sh := c.shard("m0")
	sh.remove("m0", sh.entries["m0"])
	c.Put("m0", rows("1"), old["m0"])
	if got := cachedAvailable(c, "m0"); got != "miss" {
		t.Fatalf("a swept merchant took rows read before its invalidation: %s", got)
	}
	_, _, ticket = c.Get("m0")
	c.Put("m0", rows("4"), ticket)
	if got := cachedAvailable(c, "m0"); got != "4" {
		t.Fatalf("a read after the sweep: %s", got)
	}
}
