package accounts_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/ledger"
)

// Two instances share a database: "serving" authenticates with a 2 s key cache and the
// revocation feed, "admin" revokes. The feed keeps keys cached past the TTL without
// reading them again, and a revocation made elsewhere still takes effect within the TTL.
func TestKeyCacheRevocationFeed(t *testing.T) {
	t.Parallel()
	db, _ := testdb.New(t)
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	const ttl = 2 * time.Second
	serving := newAccountsWith(t, db, clock.Now, ttl)
	admin := newAccountsWith(t, db, clock.Now, 0)

	m, err := admin.CreateMerchant(ctx, "Acme", "test")
	if err != nil {
		t.Fatal(err)
	}
	issue := func() accounts.IssuedKey {
		k, err := admin.CreateMerchantKey(ctx, m.ID, "k", models.ScopeReadWrite, "test")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	auth := func(k accounts.IssuedKey) error {
		_, err := serving.Authenticate(ctx, k.Plaintext)
		return err
	}
	// hide makes the key's row unfindable, so an answer other than ErrUnauthorized
	// proves the key came from the cache; unhide puts it back.
	hide := func(k accounts.IssuedKey) {
		if err := db.Exec(`UPDATE api_keys SET key_hash = 'hidden-' || id::bytea WHERE id = ?`, k.ID).Error; err != nil {
			t.Fatal(err)
		}
	}
	unhide := func(k accounts.IssuedKey) {
		if err := db.Exec(`UPDATE api_keys SET key_hash = ? WHERE id = ?`, k.KeyHash, k.ID).Error; err != nil {
			t.Fatal(err)
		}
	}
	poll := func() {
		if err := serving.PollRevocations(ctx); err != nil {
			t.Fatal(err)
		}
	}

	kept := issue()
	if err := auth(kept); err != nil {
		t.Fatal(err)
	}
	hide(kept)

	// Past the TTL with the feed current: served from the cache.
	clock.Advance(3 * time.Second)
	poll()
	if err := auth(kept); err != nil {
		t.Fatalf("cached key past the TTL with a current feed: %v", err)
	}

	// The feed falls behind (no poll for a TTL): the key is read again.
	clock.Advance(ttl)
	if err := auth(kept); !errors.Is(err, services.ErrUnauthorized) {
		t.Fatalf("stale feed: got %v, want the key read again (ErrUnauthorized while hidden)", err)
	}
	unhide(kept)
	if err := auth(kept); err != nil {
		t.Fatal(err)
	}
	hide(kept)

	// With a current feed a key is served from the cache for five minutes, then read
	// again.
	served := 0
	for range 5 * 60 / 2 {
		clock.Advance(time.Second)
		poll()
		clock.Advance(time.Second)
		if err := auth(kept); err != nil {
			if !errors.Is(err, services.ErrUnauthorized) {
				t.Fatal(err)
			}
			break
		}
		served++
	}
	if served != 5*60/2-1 {
		t.Fatalf("served from the cache for %d s, want the key read again at 300 s", 2*served)
	}
	unhide(kept)

	// Revoked by another instance: refused after the next poll, while the entry is
	// younger than the TTL would not have protected it.
	revoked := issue()
	if err := auth(revoked); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Second)
	poll()
	if err := auth(revoked); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RevokeKey(ctx, revoked.ID, "test"); err != nil {
		t.Fatal(err)
	}
	poll()
	if err := auth(revoked); !errors.Is(err, services.ErrUnauthorized) {
		t.Fatalf("revoked elsewhere, after a poll: got %v, want ErrUnauthorized", err)
	}
	// And it stays refused, however the clock moves.
	clock.Advance(time.Second)
	poll()
	if err := auth(revoked); !errors.Is(err, services.ErrUnauthorized) {
		t.Fatalf("revoked key accepted again: %v", err)
	}
	if err := auth(kept); err != nil {
		t.Fatalf("another key of the merchant: %v", err)
	}
}

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

// newAccountsWith is the accounts of an instance with its own clock and key cache.
func newAccountsWith(t *testing.T, db *gorm.DB, clock services.Clock, keyTTL time.Duration) *accounts.Service {
	t.Helper()
	tx, err := dbtx.New(db)
	if err != nil {
		t.Fatal(err)
	}
	tokens := catalog.New(db, clock)
	return accounts.New(tx, clock, ledger.New(tx, clock, tokens, nil, nil), tokens, keyTTL)
}
