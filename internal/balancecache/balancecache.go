// Package balancecache keeps, per instance and per merchant, what the merchant's
// balance read returned, for a bounded time. The services that change balances drop a
// merchant's entry after their transaction ends (an after-commit hook), so a read that
// follows a change made through this instance sees it.
package balancecache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
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
type Cache[V any] struct {
	ttl    time.Duration
	clock  func() time.Time
	seq    atomic.Uint64
	seed   maphash.Seed
	shards [shardCount]shard[V]
}

const (
	// shardCount spreads the lock over merchants: every read takes one.
	shardCount = 16
	// maxMerchants bounds the cache's memory (a few hundred bytes per merchant).
	maxMerchants = 64 << 10
)

type shard[V any] struct {
	mu      sync.Mutex
	entries map[string]*entry[V]
	// floor is the highest invalidation number of the entries swept away: a merchant
	// without an entry may have been invalidated up to floor.
	floor uint64
}

type entry[V any] struct {
	held        V
	cached      bool // held is current (until expires)
	expires     time.Time
	invalidated uint64 // the number of the merchant's latest invalidation
}

// New keeps values for ttl; with ttl <= 0 it returns nil, which caches
// nothing (every read goes to the database).
func New[V any](ttl time.Duration, clock func() time.Time) *Cache[V] {
	if ttl <= 0 {
		return nil
	}
	c := &Cache[V]{ttl: ttl, clock: clock, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].entries = map[string]*entry[V]{}
	}
	return c
}

func (c *Cache[V]) shard(merchantID string) *shard[V] {
	return &c.shards[maphash.String(c.seed, merchantID)%shardCount]
}

// Ticket is what a read takes before it asks the database.
type Ticket struct {
	seq   uint64
	asked time.Time
}

// Get returns the merchant's cached rows, or a ticket for reading them.
func (c *Cache[V]) Get(merchantID string) (V, bool, Ticket) {
	var zero V
	if c == nil {
		return zero, false, Ticket{}
	}
	now := c.clock()
	sh := c.shard(merchantID)
	sh.mu.Lock()
	e := sh.entries[merchantID]
	if e != nil && e.cached && now.Before(e.expires) {
		held := e.held
		sh.mu.Unlock()
		return held, true, Ticket{}
	}
	sh.mu.Unlock()
	// Taken after the entry was found missing, before the read is asked: an
	// invalidation numbered later may have committed after the read's snapshot.
	return zero, false, Ticket{seq: c.seq.Load(), asked: now}
}

// Put caches rows read with ticket, unless the merchant was invalidated since.
func (c *Cache[V]) Put(merchantID string, held V, t Ticket) {
	if c == nil {
		return
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
		e = &entry[V]{}
		sh.entries[merchantID] = e
	} else if e.invalidated > t.seq {
		return
	}
	e.held, e.cached, e.expires = held, true, t.asked.Add(c.ttl)
}

// makeRoom keeps a shard under its share of maxMerchants: when it is full, the
// entries that hold nothing current go, and if that is not enough, any entries until a
// quarter is free, so a full cache is swept once per quarter of its size, not per read.
func (sh *shard[V]) makeRoom(now time.Time) {
	const limit = maxMerchants / shardCount
	if len(sh.entries) < limit {
		return
	}
	for id, e := range sh.entries {
		if !e.cached || !now.Before(e.expires) {
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

func (sh *shard[V]) remove(id string, e *entry[V]) {
	sh.floor = max(sh.floor, e.invalidated)
	delete(sh.entries, id)
}

// Invalidate drops the merchants' cached balances. Call it after the change's commit
// (or its failure: a commit whose outcome is unknown may have happened).
func (c *Cache[V]) Invalidate(merchantIDs ...string) {
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
			e = &entry[V]{}
			sh.entries[id] = e
		}
		var zero V
		e.held, e.cached, e.invalidated = zero, false, n
		sh.mu.Unlock()
	}
}
