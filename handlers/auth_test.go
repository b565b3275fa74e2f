package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
)

func TestMerchantIsolation(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	aID, aKey := env.Merchant("A")
	_, bKey := env.Merchant("B")
	env.Credit(aID, "BTC", "1")
	var w withdrawal
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: aKey,
		Body: map[string]any{"token": "BTC", "amount": "0.01", "address": apitest.BTCAddress}}).Decode(t, &w)

	for _, r := range []apitest.Request{
		{Method: http.MethodGet, Path: "/api/withdrawals/" + w.ID, Key: bKey},
		{Method: http.MethodPost, Path: "/api/withdrawals/" + w.ID + "/cancel", Key: bKey},
		{Method: http.MethodGet, Path: "/api/withdrawals/wth_doesnotexist0000", Key: aKey},
	} {
		got := env.Do(r)
		if got.Status != http.StatusNotFound || got.ErrorCode() != "NOT_FOUND" {
			t.Errorf("%s %s: %d %s", r.Method, r.Path, got.Status, got.Body)
		}
	}
	var list struct{ Withdrawals []withdrawal }
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals", Key: bKey}).Decode(t, &list)
	if len(list.Withdrawals) != 0 {
		t.Errorf("B sees A's withdrawals: %+v", list)
	}
	if available, _ := env.Balance(bKey, "BTC"); !available.IsZero() {
		t.Errorf("B sees A's balance: %s", available)
	}
	// A's withdrawal is untouched by B's cancel attempt.
	var still withdrawal
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/" + w.ID, Key: aKey}).Decode(t, &still)
	if still.Status != "pending" {
		t.Errorf("status %s after B's cancel", still.Status)
	}
}

func TestRolesAndKeys(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("A")

	adminRoutes := []apitest.Request{
		{Method: http.MethodGet, Path: "/api/admin/withdrawal-fees"},
		{Method: http.MethodPost, Path: "/api/admin/withdrawal-fees", Body: map[string]any{"baseFee": "0", "markupRate": "0", "enabled": true}},
		{Method: http.MethodPut, Path: "/api/admin/withdrawal-fees", Body: map[string]any{"amount": "100", "currency": "USDT"}},
		{Method: http.MethodGet, Path: "/api/admin/withdrawal-fees/changes"},
		{Method: http.MethodGet, Path: "/api/admin/merchants"},
		{Method: http.MethodPost, Path: "/api/admin/merchants", Body: map[string]any{"name": "x"}},
		{Method: http.MethodPost, Path: "/api/admin/merchants/" + merchantID + "/api-keys"},
		{Method: http.MethodGet, Path: "/api/admin/merchants/" + merchantID + "/api-keys"},
		{Method: http.MethodPost, Path: "/api/admin/merchants/" + merchantID + "/credits", Body: map[string]any{"token": "BTC", "amount": "1", "reference": "r"}},
		{Method: http.MethodDelete, Path: "/api/admin/api-keys/key_0000000000000000"},
	}
	for _, r := range adminRoutes {
		r.Key = key
		if got := env.Do(r); got.Status != http.StatusForbidden || got.ErrorCode() != "FORBIDDEN" {
			t.Errorf("merchant key on %s %s: %d %s", r.Method, r.Path, got.Status, got.Body)
		}
	}
	// An admin key belongs to no merchant: merchant routes are refused too.
	if got := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: env.AdminKey}); got.Status != http.StatusForbidden {
		t.Errorf("admin key on /api/balance: %d", got.Status)
	}
	if available, _ := env.Balance(key, "BTC"); !available.IsZero() {
		t.Errorf("a forbidden credit changed the balance: %s", available)
	}

	for name, header := range map[string]string{"missing": "", "unknown": "Bearer wk_unknown", "malformed": "Basic Zm9vOmJhcg=="} {
		r := apitest.Request{Method: http.MethodGet, Path: "/api/balance", Header: map[string]string{"Authorization": header}}
		if got := env.Do(r); got.Status != http.StatusUnauthorized || got.ErrorCode() != "UNAUTHORIZED" {
			t.Errorf("%s key: %d %s", name, got.Status, got.Body)
		}
	}
	// DCE Pay also accepts the bare key.
	if got := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Header: map[string]string{"Authorization": key}}); got.Status != http.StatusOK {
		t.Errorf("bare key: %d %s", got.Status, got.Body)
	}
}

func TestRevokedKeyIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("A")
	if got := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: key}); got.Status != http.StatusOK {
		t.Fatalf("before revocation: %d", got.Status)
	}
	var keys struct {
		APIKeys []struct {
			ID         string
			LastUsedAt *string
			RevokedAt  *string
		}
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/merchants/" + merchantID + "/api-keys", Key: env.AdminKey}).Decode(t, &keys)
	if len(keys.APIKeys) != 1 || keys.APIKeys[0].LastUsedAt == nil {
		t.Fatalf("keys: %+v", keys)
	}
	revoked := env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/admin/api-keys/" + keys.APIKeys[0].ID, Key: env.AdminKey})
	if revoked.Status != http.StatusOK || revoked.JSON()["revokedAt"] == nil {
		t.Fatalf("revoke: %d %s", revoked.Status, revoked.Body)
	}
	if got := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: key}); got.Status != http.StatusUnauthorized {
		t.Errorf("revoked key: %d %s", got.Status, got.Body)
	}
	if again := env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/admin/api-keys/" + keys.APIKeys[0].ID, Key: env.AdminKey}); again.Status != http.StatusOK {
		t.Errorf("revoking twice: %d", again.Status)
	}
	if missing := env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/admin/api-keys/key_nope", Key: env.AdminKey}); missing.Status != http.StatusNotFound {
		t.Errorf("unknown key: %d", missing.Status)
	}
	// The plaintext is never stored.
	var stored int64
	env.DB.Table("api_keys").Where("key_prefix = ? OR encode(key_hash, 'escape') = ?", key, key).Count(&stored)
	if stored != 0 {
		t.Error("plaintext key found in the database")
	}
}

func TestHealthAndContract(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	for _, path := range []string{"/healthz", "/readyz", "/openapi.yaml", "/docs", "/docs/redoc.standalone.js"} {
		if r := env.Do(apitest.Request{Method: http.MethodGet, Path: path}); r.Status != http.StatusOK {
			t.Errorf("%s: %d", path, r.Status)
		}
	}
}

// Every merchant route of the contract, against a read-only key and a read_write key:
// read keys may only GET; read_write keys are never refused for their scope.
func TestScopeMatrix(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, writeKey := env.Merchant("Acme")
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/" + merchantID + "/api-keys", Key: env.AdminKey,
		Body: map[string]any{"name": "dashboard", "scope": "read"}})
	if r.Status != http.StatusCreated || r.JSON()["scope"] != "read" {
		t.Fatalf("read key: %d %s", r.Status, r.Body)
	}
	readKey := r.JSON()["key"].(string)
	env.Credit(merchantID, "BTC", "1")

	checked := 0
	for _, op := range apitest.Operations(t) {
		if !strings.HasPrefix(op.Path, "/api/") || strings.HasPrefix(op.Path, "/api/admin/") {
			continue
		}
		path := strings.NewReplacer("{id}", "xyz_0000000000000000").Replace(op.Path)
		for _, tc := range []struct {
			key      string
			refused  bool
			scopeFor string
		}{
			{readKey, op.Method != http.MethodGet, "read"},
			{writeKey, false, "read_write"},
		} {
			// Bodies are deliberately empty objects: a refused scope must be refused before
			// any validation, and an allowed one must get past the scope check.
			req := apitest.Request{Method: op.Method, Path: path, Key: tc.key}
			if op.Method == http.MethodPost || op.Method == http.MethodPut {
				req.Body = map[string]any{}
			}
			got := env.Do(req)
			if tc.refused && (got.Status != http.StatusForbidden || got.ErrorCode() != "FORBIDDEN") {
				t.Errorf("%s key on %s %s: %d %s, want 403", tc.scopeFor, op.Method, op.Path, got.Status, got.Body)
			}
			if !tc.refused && (got.Status == http.StatusForbidden || got.Status == http.StatusUnauthorized) {
				t.Errorf("%s key on %s %s: %d %s, want it allowed", tc.scopeFor, op.Method, op.Path, got.Status, got.Body)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Errorf("only %d route checks: the contract walk found too few merchant routes", checked)
	}
	if available, _ := env.Balance(writeKey, "BTC"); !available.Equal(decimal.NewFromInt(1)) {
		t.Errorf("a refused call moved money: %s", available)
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	env := apitest.New(t, func(o *apitest.Options) {
		o.RateLimit, o.RateLimitWithdrawals = 5, 2
		o.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	merchantID, key := env.Merchant("Acme") // spends the admin key's budget, not this key's
	env.Credit(merchantID, "USDT", "1000")
	create := func() apitest.Response {
		return env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
			Body: map[string]any{"token": "USDT", "amount": "10", "address": apitest.ETHAddress}})
	}
	for i := 0; i < 2; i++ {
		if r := create(); r.Status != http.StatusCreated || r.Header.Get("RateLimit-Limit") != "2" || r.Header.Get("RateLimit-Remaining") != strconv.Itoa(1-i) {
			t.Fatalf("withdrawal %d: %d %v", i, r.Status, r.Header)
		}
	}
	limited := create()
	if limited.Status != http.StatusTooManyRequests || limited.ErrorCode() != "RATE_LIMITED" ||
		limited.Header.Get("Retry-After") != "30" || limited.Header.Get("RateLimit-Remaining") != "0" || limited.Header.Get("RateLimit-Reset") != "60" {
		t.Fatalf("third withdrawal: %d %v %s", limited.Status, limited.Header, limited.Body)
	}
	// Other requests still pass on the general limit (5: two spent by withdrawals).
	for i := 0; i < 3; i++ {
		if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: key}); r.Status != http.StatusOK {
			t.Fatalf("read %d: %d", i, r.Status)
		}
	}
	if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: key}); r.Status != http.StatusTooManyRequests || r.Header.Get("RateLimit-Limit") != "5" {
		t.Fatalf("sixth request: %d %v", r.Status, r.Header)
	}
	var rows int64
	env.DB.Table("withdrawals").Count(&rows)
	if rows != 2 {
		t.Errorf("%d withdrawals, want the 2 allowed", rows)
	}
	mu.Lock()
	now = now.Add(30 * time.Second)
	mu.Unlock()
	if r := create(); r.Status != http.StatusCreated {
		t.Errorf("after the window: %d %s", r.Status, r.Body)
	}
}
