package services

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func newTestBalanceCache() (*BalanceCache, *TestClock) {
	clock := NewTestClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return NewBalanceCache(time.Second, clock.Now), clock
}

func rows(available string) []TokenBalance {
	return []TokenBalance{{Token: "BTC", Available: decimal.RequireFromString(available), Pending: decimal.Zero}}
}

func cachedAvailable(c *BalanceCache, merchantID string) string {
	held, ok, _ := c.get(merchantID)
	if !ok {
		return "miss"
	}
	return held[0].Available.String()
}

func TestBalanceCacheKeepsRowsForTheTTL(t *testing.T) {
	c, clock := newTestBalanceCache()
	_, ok, ticket := c.get("m1")
	if ok {
		t.Fatal("an empty cache answered")
	}
	c.put("m1", rows("1"), ticket)
	clock.Advance(999 * time.Millisecond)
	if got := cachedAvailable(c, "m1"); got != "1" {
		t.Fatalf("within the TTL: %s", got)
	}
	clock.Advance(time.Millisecond)
	if got := cachedAvailable(c, "m1"); got != "miss" {
		t.Fatalf("at the TTL (counted from when the read was asked): %s", got)
	}
	if NewBalanceCache(0, clock.Now) != nil {
		t.Fatal("a TTL of 0 must turn the cache off")
	}
	var off *BalanceCache
	off.put("m1", rows("1"), ticket)
	off.Invalidate("m1")
	if _, ok, _ := off.get("m1"); ok {
		t.Fatal("the cache that is off answered")
	}
}

func TestBalanceCacheDropsAReadThatRacedAnInvalidation(t *testing.T) {
	c, _ := newTestBalanceCache()
	// The read is asked, a change commits and invalidates, then the read comes back: its
	// rows may predate the change and must not be kept.
	_, _, ticket := c.get("m1")
	c.Invalidate("m1")
	c.put("m1", rows("1"), ticket)
	if got := cachedAvailable(c, "m1"); got != "miss" {
		t.Fatalf("a read older than the invalidation was cached: %s", got)
	}
	// A read asked after the invalidation is kept; another merchant's change does not
	// touch it.
	_, _, ticket = c.get("m1")
	c.Invalidate("m2")
	c.put("m1", rows("2"), ticket)
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
	old := make(map[string]balanceTicket)
	for i := range 2 * maxCachedMerchants {
		id := fmt.Sprintf("m%d", i)
		_, _, ticket := c.get(id)
		old[id] = ticket
		c.put(id, rows("1"), ticket)
	}
	count := func() (n int) {
		for i := range c.shards {
			n += len(c.shards[i].entries)
		}
		return n
	}
	if n := count(); n > maxCachedMerchants {
		t.Fatalf("%d merchants cached, bound %d", n, maxCachedMerchants)
	}
	// Once the entries expire they make room for others.
	clock.Advance(2 * time.Second)
	_, _, ticket := c.get("late")
	c.put("late", rows("3"), ticket)
	if got := cachedAvailable(c, "late"); got != "3" {
		t.Fatalf("after expiry: %s", got)
	}
	// An invalidated merchant swept away still refuses rows read before its invalidation.
	c.Invalidate("m0")
	sh := c.shard("m0")
	sh.remove("m0", sh.entries["m0"])
	c.put("m0", rows("1"), old["m0"])
	if got := cachedAvailable(c, "m0"); got != "miss" {
		t.Fatalf("a swept merchant took rows read before its invalidation: %s", got)
	}
	_, _, ticket = c.get("m0")
	c.put("m0", rows("4"), ticket)
	if got := cachedAvailable(c, "m0"); got != "4" {
		t.Fatalf("a read after the sweep: %s", got)
	}
}
