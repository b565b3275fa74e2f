package services

import (
	"context"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// catalogTTL bounds how stale a token or fee schedule can be on an instance that did
// not make the change; the instance that changes a fee schedule drops its cache at once.
const catalogTTL = time.Second

// Catalog caches tokens with the fee schedule in force for each, so pricing a
// withdrawal costs no database round trip. A nil *Catalog reads the database every time.
type Catalog struct {
	clock   Clock
	mu      sync.RWMutex
	entries map[string]catalogEntry
}

type catalogEntry struct {
	token   pricedToken
	expires time.Time
}

// NewCatalog returns an empty cache.
func NewCatalog(clock Clock) *Catalog {
	return &Catalog{clock: clock, entries: map[string]catalogEntry{}}
}

// token returns a token and its schedule, from the cache when fresh.
func (c *Catalog) token(ctx context.Context, db *gorm.DB, symbol string) (pricedToken, error) {
	if c == nil {
		return loadPricedToken(ctx, db, symbol)
	}
	symbol = strings.ToUpper(symbol)
	now := c.clock()
	c.mu.RLock()
	e, ok := c.entries[symbol]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.token, nil
	}
	tok, err := loadPricedToken(ctx, db, symbol)
	if err != nil {
		return tok, err // unknown and disabled tokens are not cached
	}
	c.mu.Lock()
	c.entries[symbol] = catalogEntry{token: tok, expires: now.Add(catalogTTL)}
	c.mu.Unlock()
	return tok, nil
}

// invalidate drops every entry, after a fee schedule change.
func (c *Catalog) invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.entries = map[string]catalogEntry{}
	c.mu.Unlock()
}
