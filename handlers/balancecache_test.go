package handlers_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

// The test service caches balances for a minute, so a change that forgot to drop its
// merchant's entry would show here as an old balance.

// assertBalance checks GET /api/balance, then the database row behind it.
func assertBalance(t *testing.T, env *apitest.Env, key, merchantID, token, available, pending, when string) {
	t.Helper()
	gotAvailable, gotPending := env.Balance(key, token)
	if !gotAvailable.Equal(sum(available)) || !gotPending.Equal(sum(pending)) {
		t.Errorf("%s: GET /api/balance %s %s/%s, want %s/%s", when, token, gotAvailable, gotPending, available, pending)
	}
	var row struct{ Available, Pending decimal.Decimal }
	env.DB.Raw(`SELECT available, pending FROM balances WHERE merchant_id = ? AND token = ?`, merchantID, token).Scan(&row)
	if !row.Available.Equal(gotAvailable) || !row.Pending.Equal(gotPending) {
		t.Errorf("%s: the database holds %s/%s", when, row.Available, row.Pending)
	}
}

func TestBalanceReadFollowsEveryChangeAtOnce(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	assertBalance(t, env, key, merchantID, "USDT", "0", "0", "new merchant")

	env.Credit(merchantID, "USDT", "500")
	assertBalance(t, env, key, merchantID, "USDT", "500", "0", "after an admin credit")

	cancelled := env.Withdraw(key, "USDT", "100", apitest.ETHAddress)
	assertBalance(t, env, key, merchantID, "USDT", "400", "100", "after a create")

	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals/" + cancelled + "/cancel", Key: key}); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	assertBalance(t, env, key, merchantID, "USDT", "500", "0", "after a cancel")

	paid := []string{env.Withdraw(key, "USDT", "100", apitest.ETHAddress), env.Withdraw(key, "USDT", "50", apitest.ETHAddress)}
	assertBalance(t, env, key, merchantID, "USDT", "350", "150", "before the payout")
	env.StartJobs()
	waitTerminal(env, key, paid...)
	assertBalance(t, env, key, merchantID, "USDT", "350", "0", "after the payout")
	testdb.AssertLedgerConsistent(t, env.DB)
}

// Another instance's change is seen once the cached entry is a TTL old, not before: the
// bound DECISIONS.md gives.
func TestBalanceChangedByAnotherInstanceIsSeenWithinTheTTL(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		now = time.Now().UTC()
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	withClock := func(o *apitest.Options) { o.Clock = clock }
	here := apitest.New(t, withClock)
	there := apitest.Restart(here, withClock)
	merchantID, key := here.Merchant("Acme")
	here.Credit(merchantID, "USDT", "500")
	assertBalance(t, here, key, merchantID, "USDT", "500", "0", "before")

	there.Withdraw(key, "USDT", "100", apitest.ETHAddress)
	if available, _ := here.Balance(key, "USDT"); !available.Equal(sum("500")) {
		t.Errorf("within the TTL the other instance's read is its cached one: %s", available)
	}
	mu.Lock()
	now = now.Add(time.Minute) // the test service's TTL
	mu.Unlock()
	assertBalance(t, here, key, merchantID, "USDT", "400", "100", "a TTL later")
}

// Reads racing creates of the same merchants never leave an old balance cached.
func TestBalanceReadsDuringParallelWithdrawals(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	const merchants, creates, reads = 4, 10, 10
	ids, keys := make([]string, merchants), make([]string, merchants)
	for i := range ids {
		ids[i], keys[i] = env.Merchant(fmt.Sprintf("m%d", i))
		env.Credit(ids[i], "USDT", "1000")
	}
	var wg sync.WaitGroup
	for _, key := range keys {
		for range creates {
			wg.Go(func() { env.Withdraw(key, "USDT", "10", apitest.ETHAddress) })
		}
		for range reads {
			wg.Go(func() {
				if r, err := env.Send(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: key}); err != nil || r.Status != http.StatusOK {
					t.Errorf("read: %v %d", err, r.Status)
				}
			})
		}
	}
	wg.Wait()
	for i, key := range keys {
		assertBalance(t, env, key, ids[i], "USDT", "900", "100", fmt.Sprintf("merchant %d after the race", i))
	}
}
