package services

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// The balance cache: each instance keeps the balance rows it has read, per merchant, for
// BALANCE_CACHE_TTL.
//
// What a merchant can see:
//   - every balance change committed through this instance (a withdrawal created or
//     cancelled, a payout outcome, an admin credit) drops the merchant's entry after its
//     commit and before its answer, so a read that follows it, here, sees it;
//   - a change committed through another instance is seen within the TTL: an entry is
//     never older than the TTL, counted from the moment its read was asked.
//
// A read that was asked before a change's commit may still be answered by the database
// with the old rows; it must not then be cached. Each invalidation takes a number from
// one sequence; a read takes the sequence's current value before it asks, and its rows
// are cached only if no invalidation of its merchant has taken a higher number since.
type BalanceCache struct {
	ttl    time.Duration
	clock  Clock
	seq    atomic.Uint64
	seed   maphash.Seed
	shards [balanceShards]balanceShard
}

const (
	// balanceShards spreads the lock over merchants: every read takes one.
	balanceShards = 16
	// maxCachedMerchants bounds the cache's memory (a few hundred bytes per merchant).
	maxCachedMerchants = 64 << 10
)

type balanceShard struct {
	mu      sync.Mutex
	entries map[string]*cachedBalances
	// floor is the highest invalidation number of the entries swept away: a merchant
	// without an entry may have been invalidated up to floor.
	floor uint64
}

type cachedBalances struct {
	held        []TokenBalance // nil: nothing cached
	expires     time.Time
	invalidated uint64 // the number of the merchant's latest invalidation
}

// NewBalanceCache keeps balances for ttl; with ttl <= 0 it returns nil, which caches
// nothing (every read goes to the database).
func NewBalanceCache(ttl time.Duration, clock Clock) *BalanceCache {
	if ttl <= 0 {
		return nil
	}
	c := &BalanceCache{ttl: ttl, clock: clock, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].entries = map[string]*cachedBalances{}
	}
	return c
}

func (c *BalanceCache) shard(merchantID string) *balanceShard {
	return &c.shards[maphash.String(c.seed, merchantID)%balanceShards]
}

// balanceTicket is what a read takes before it asks the database.
type balanceTicket struct {
	seq   uint64
	asked time.Time
}

// get returns the merchant's cached rows, or a ticket for reading them.
func (c *BalanceCache) get(merchantID string) ([]TokenBalance, bool, balanceTicket) {
	if c == nil {
		return nil, false, balanceTicket{}
	}
	now := c.clock()
	sh := c.shard(merchantID)
	sh.mu.Lock()
	e := sh.entries[merchantID]
	if e != nil && e.held != nil && now.Before(e.expires) {
		held := e.held
		sh.mu.Unlock()
		return held, true, balanceTicket{}
	}
	sh.mu.Unlock()
	// Taken after the entry was found missing, before the read is asked: an
	// invalidation numbered later may have committed after the read's snapshot.
	return nil, false, balanceTicket{seq: c.seq.Load(), asked: now}
}

// put caches rows read with ticket, unless the merchant was invalidated since.
func (c *BalanceCache) put(merchantID string, held []TokenBalance, t balanceTicket) {
	if c == nil {
		return
	}
	if held == nil {
		held = []TokenBalance{} // a merchant without rows is cached too
	}
	sh := c.shard(merchantID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[merchantID]
	if e == nil {
		if sh.floor > t.seq {
			return
		}
		sh.makeRoom(c.clock())
		e = &cachedBalances{}
		sh.entries[merchantID] = e
	} else if e.invalidated > t.seq {
		return
	}
	e.held, e.expires = held, t.asked.Add(c.ttl)
}

// makeRoom keeps a shard under its share of maxCachedMerchants: when it is full, the
// entries that hold nothing current go, and if that is not enough, any entries until a
// quarter is free, so a full cache is swept once per quarter of its size, not per read.
func (sh *balanceShard) makeRoom(now time.Time) {
	const limit = maxCachedMerchants / balanceShards
	if len(sh.entries) < limit {
		return
	}
	for id, e := range sh.entries {
		if e.held == nil || !now.Before(e.expires) {
			sh.remove(id, e)
		}
	}
	for id, e := range sh.entries {
		if len(sh.entries) < limit*3/4 {
			break
		}
		sh.remove(id, e)
	}
}

func (sh *balanceShard) remove(id string, e *cachedBalances) {
	sh.floor = max(sh.floor, e.invalidated)
	delete(sh.entries, id)
}

// Invalidate drops the merchants' cached balances. Call it after the change's commit
// (or its failure: a commit whose outcome is unknown may have happened).
func (c *BalanceCache) Invalidate(merchantIDs ...string) {
	if c == nil {
		return
	}
	for _, id := range merchantIDs {
		n := c.seq.Add(1)
		sh := c.shard(id)
		sh.mu.Lock()
		e := sh.entries[id]
		if e == nil {
			// A read asked before this number may be in flight: it must find the
			// invalidation when it comes back.
			sh.makeRoom(c.clock())
			e = &cachedBalances{}
			sh.entries[id] = e
		}
		e.held, e.invalidated = nil, n
		sh.mu.Unlock()
	}
}

// Every change to a balance row made in Go (ledger.go) happens inside a transaction run
// by balanceTx, which drops the cached balances of the merchants it touched once the
// transaction has ended. A change outside one is refused, so a write path that would
// leave a stale cache fails its tests instead.

type balanceTouchesKey struct{}

// balanceTouches collects the merchants whose balances a transaction changed.
type balanceTouches struct {
	mu        sync.Mutex
	merchants []string
}

var errUntrackedBalanceChange = errors.New("balance change outside balanceTx: the balance cache would not see it")

// touchBalances records that the transaction changes the merchants' balances.
func touchBalances(tx *gorm.DB, merchantIDs ...string) error {
	t, _ := tx.Statement.Context.Value(balanceTouchesKey{}).(*balanceTouches)
	if t == nil {
		return errUntrackedBalanceChange
	}
	t.mu.Lock()
	t.merchants = append(t.merchants, merchantIDs...)
	t.mu.Unlock()
	return nil
}

// balanceWrites is embedded by the services that change balances.
type balanceWrites struct{ balanceCache *BalanceCache }

// UseBalanceCache makes the service drop the balances it changes from c.
func (w *balanceWrites) UseBalanceCache(c *BalanceCache) { w.balanceCache = c }

// balanceTx runs fn in a transaction on db and then invalidates the cached balances
// of every merchant fn touched, whether the transaction committed or not.
func (w *balanceWrites) balanceTx(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	t := &balanceTouches{}
	err := db.WithContext(context.WithValue(ctx, balanceTouchesKey{}, t)).Transaction(fn)
	w.balanceCache.Invalidate(t.merchants...)
	return err
}
