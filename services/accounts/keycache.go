package accounts

import (
	"context"
	"fmt"
	"time"
)

// The API-key cache and its revocation feed.
//
// Every instance must stop accepting a revoked key within AUTH_CACHE_TTL. Re-reading
// each cached key when its TTL expires meets that bound, but costs a query per key per
// TTL: with 1,000 busy merchants, 500 lookups a second, one request in four on the
// benchmark's create load (BENCHMARKS.md). Instead, each instance asks the database
// every TTL/2 which keys were revoked recently (one query), and keeps a checked key for
// up to keyMaxAge while that answer is fresh. The bound is unchanged: a key older than
// the TTL is trusted only if a poll that started less than a TTL ago found it not
// revoked; when the feed falls behind (the database unreachable, the poller stopped),
// keys expire after the TTL as before.
const (
	// keyMaxAge bounds how long a key is trusted without being read again, so other
	// changes to it (and a feed that missed something) are picked up.
	keyMaxAge = 5 * time.Minute
	// revocationWindow is how far back each poll looks: longer than keyMaxAge, with a
	// minute's margin for clock skew between the instance that revoked (revoked_at is
	// its clock) and the one polling.
	revocationWindow = keyMaxAge + time.Minute
)

// revocations is one poll's answer: the keys revoked within revocationWindow, and when
// the poll started (every revocation committed before then is in the set).
type revocations struct {
	hashes   map[string]struct{}
	syncedAt time.Time
}

type cachedKey struct {
	principal Principal
	fetched   time.Time // when the key was read from the database
}

// trusted reports whether a cached key may be used at now without reading it again.
func (s *Service) trusted(c cachedKey, hash string, now time.Time) bool {
	age := now.Sub(c.fetched)
	if age < s.cacheTTL {
		return true
	}
	if age >= keyMaxAge {
		return false
	}
	feed := s.revoked.Load()
	if feed == nil || now.Sub(feed.syncedAt) >= s.cacheTTL {
		return false
	}
	_, revoked := feed.hashes[hash]
	return !revoked
}

// WatchRevocations polls the revocation feed every AUTH_CACHE_TTL/2 until ctx ends. Without
// it (or with the cache off) cached keys live for the TTL only.
func (s *Service) WatchRevocations(ctx context.Context, onError func(error)) {
	if s.cacheTTL <= 0 {
		return
	}
	tick := time.NewTicker(s.cacheTTL / 2)
	defer tick.Stop()
	for {
		if err := s.PollRevocations(ctx); err != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// PollRevocations reads the keys revoked within revocationWindow once.
func (s *Service) PollRevocations(ctx context.Context) error {
	started := s.clock.Now()
	var hashes [][]byte
	err := s.db.Gorm(ctx).Raw(`SELECT key_hash FROM api_keys WHERE revoked_at > ?`,
		started.Add(-revocationWindow)).Scan(&hashes).Error
	if err != nil {
		return fmt.Errorf("poll key revocations: %w", err)
	}
	feed := &revocations{hashes: make(map[string]struct{}, len(hashes)), syncedAt: started}
	for _, h := range hashes {
		feed.hashes[string(h)] = struct{}{}
	}
	s.revoked.Store(feed)
	return nil
}
