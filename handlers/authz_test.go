package handlers_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/models"
)

// rule is who may call a route.
type rule int

const (
	public          rule = iota // anyone, no key
	merchantRead                // merchant keys, read-only ones included
	merchantWrite               // merchant keys with scope read_write
	adminOnly                   // admin keys, read-only ones included (GET routes)
	adminWrite                  // admin keys with scope read_write
	metricsListener             // anyone, on the metrics listener only: never on the API's
)

// rules is the intended authorization of every route. A route served or documented
// without an entry here fails TestAuthorizationMatrix: authorization is decided, never
// inherited by accident.
var rules = map[string]rule{
	"GET /healthz":                  public,
	"GET /readyz":                   public,
	"GET /openapi.yaml":             public,
	"GET /docs":                     public,
	"GET /docs/redoc.standalone.js": public,
	"GET /metrics":                  metricsListener,

	"POST /api/withdrawals":                          merchantWrite,
	"GET /api/withdrawals":                           merchantRead,
	"GET /api/withdrawals/fee":                       merchantRead,
	"GET /api/withdrawals/{id}":                      merchantRead,
	"POST /api/withdrawals/{id}/cancel":              merchantWrite,
	"GET /api/balance":                               merchantRead,
	"GET /api/whitelist":                             merchantRead,
	"POST /api/whitelist":                            merchantWrite,
	"DELETE /api/whitelist/{id}":                     merchantWrite,
	"PUT /api/whitelist/settings":                    merchantWrite,
	"POST /api/webhook-endpoints":                    merchantWrite,
	"GET /api/webhook-endpoints":                     merchantRead,
	"DELETE /api/webhook-endpoints/{id}":             merchantWrite,
	"POST /api/webhook-endpoints/{id}/rotate-secret": merchantWrite,
	"POST /api/webhook-endpoints/{id}/test":          merchantWrite,
	"GET /api/webhook-deliveries":                    merchantRead,
	"POST /api/webhook-deliveries/{id}/retry":        merchantWrite,
	"POST /api/withdrawal-batches":                   merchantWrite,
	"GET /api/withdrawal-batches/{id}":               merchantRead,
	"GET /api/withdrawal-batches/{id}.csv":           merchantRead,

	"GET /api/admin/withdrawal-fees":                   adminOnly,
	"POST /api/admin/withdrawal-fees":                  adminWrite,
	"PUT /api/admin/withdrawal-fees":                   adminWrite,
	"GET /api/admin/withdrawal-fees/changes":           adminOnly,
	"GET /api/admin/limits":                            adminOnly,
	"PUT /api/admin/limits":                            adminWrite,
	"DELETE /api/admin/limits":                         adminWrite,
	"GET /api/admin/approval-rules":                    adminOnly,
	"PUT /api/admin/approval-rules":                    adminWrite,
	"DELETE /api/admin/approval-rules":                 adminWrite,
	"GET /api/admin/approvals":                         adminOnly,
	"POST /api/admin/withdrawals/{id}/approve":         adminWrite,
	"POST /api/admin/withdrawals/{id}/reject":          adminWrite,
	"GET /api/admin/withdrawal-batches/{id}":           adminOnly,
	"POST /api/admin/withdrawal-batches/{id}/approve":  adminWrite,
	"POST /api/admin/withdrawal-batches/{id}/reject":   adminWrite,
	"GET /api/admin/tokens":                            adminOnly,
	"PUT /api/admin/tokens/{token}/networks/{network}": adminWrite,
	"POST /api/admin/merchants":                        adminWrite,
	"GET /api/admin/merchants":                         adminOnly,
	"POST /api/admin/merchants/{id}/api-keys":          adminWrite,
	"GET /api/admin/merchants/{id}/api-keys":           adminOnly,
	"POST /api/admin/merchants/{id}/credits":           adminWrite,
	"POST /api/admin/merchants/{id}/freeze":            adminWrite,
	"POST /api/admin/merchants/{id}/unfreeze":          adminWrite,
	"DELETE /api/admin/api-keys/{id}":                  adminWrite,
	"GET /api/admin/withdrawals":                       adminOnly,
	"POST /api/admin/withdrawals/{id}/resolve":         adminWrite,
	"GET /api/admin/ledger/reconciliation":             adminOnly,
	"GET /api/admin/fee-revenue":                       adminOnly,
	"POST /api/admin/payout-runs":                      adminWrite,
	"GET /api/admin/payout-batches":                    adminOnly,
	"POST /api/admin/payout-batches/{id}/resolve":      adminWrite,
	"GET /api/admin/audit-log":                         adminOnly,
	"GET /api/admin/sandbox":                           adminOnly,
	"PUT /api/admin/sandbox":                           adminWrite,
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ctx := context.Background()
	aID, aKey := env.Merchant("A")
	_, bKey := env.Merchant("B")
	env.Credit(aID, "USDT", "100000")
	readKey := issueKey(t, env, aID, "read")
	readAdmin, err := env.Accounts.CreateAdminKey(ctx, "read-only ops", models.ScopeRead, "test")
	if err != nil {
		t.Fatal(err)
	}
	revokedKey := issueKey(t, env, aID, "read_write")
	var revokedID string
	env.DB.Raw(`SELECT id FROM api_keys WHERE key_prefix = ?`, revokedKey[:10]).Scan(&revokedID)
	env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/admin/api-keys/" + revokedID, Key: env.AdminKey})

	// Every route served must be documented and ruled, and every documented one ruled.
	documented := map[string]bool{}
	for _, op := range apitest.Operations(t) {
		documented[op.Method+" "+op.Path] = true
	}
	for _, r := range env.App.Handler.(*echo.Echo).Routes() {
		// The console's pages are not the API: their authorization is tested in console/.
		if r.Method == echo.RouteNotFound || strings.HasSuffix(r.Path, "/*") || r.Path == "/console" || strings.HasPrefix(r.Path, "/console/") {
			continue
		}
		route := r.Method + " " + echoPathToOpenAPI(r.Path)
		if !documented[route] {
			t.Errorf("%s is served but not in openapi.yaml", route)
		}
	}

	// A's resources, a fresh one per route so that A's own call (made last) can consume it.
	resourceFor := func(op apitest.Operation) string {
		t.Helper()
		switch {
		case strings.HasPrefix(op.Path, "/api/withdrawals/{id}"), strings.HasPrefix(op.Path, "/api/admin/withdrawals/{id}"):
			return env.Withdraw(aKey, "USDT", "10", apitest.ETHAddress)
		case strings.HasPrefix(op.Path, "/api/withdrawal-batches/{id}"), strings.HasPrefix(op.Path, "/api/admin/withdrawal-batches/{id}"):
			r := postBatch(env, aKey, "", "all_or_nothing", []batchItem{usdtItem(randomEVMAddress(), "10", apitest.ETHAddress)})
			return r.JSON()["id"].(string)
		case strings.HasPrefix(op.Path, "/api/whitelist/{id}"):
			r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/whitelist", Key: aKey,
				Body: map[string]any{"token": "ETH", "address": randomEVMAddress()}})
			return r.JSON()["id"].(string)
		case strings.HasPrefix(op.Path, "/api/webhook-endpoints/{id}"):
			return registerEndpoint(t, env, aKey, map[string]any{"url": "https://merchant.example/hooks"}).ID
		case strings.HasPrefix(op.Path, "/api/webhook-deliveries/{id}"):
			ep := registerEndpoint(t, env, aKey, map[string]any{"url": "https://merchant.example/hooks"})
			env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + ep.ID + "/test", Key: aKey})
			var id string
			env.DB.Raw(`SELECT id FROM webhook_deliveries WHERE endpoint_id = ?`, ep.ID).Scan(&id)
			return id
		case strings.HasPrefix(op.Path, "/api/admin/merchants/{id}"):
			return aID
		case op.Path == "/api/admin/api-keys/{id}":
			key := issueKey(t, env, aID, "read")
			var id string
			env.DB.Raw(`SELECT id FROM api_keys WHERE key_prefix = ?`, key[:10]).Scan(&id)
			return id
		case op.Path == "/api/admin/payout-batches/{id}/resolve":
			env.Withdraw(aKey, "USDT", "10", apitest.ETHAddress)
			batches, err := env.App.Payouts.ClaimAll(ctx)
			if err != nil || len(batches) == 0 {
				t.Fatalf("claim: %v %v", batches, err)
			}
			return batches[0]
		}
		t.Fatalf("no resource for %s", op.Path)
		return ""
	}

	for _, op := range apitest.Operations(t) {
		route := op.Method + " " + op.Path
		want, ok := rules[route]
		if !ok {
			t.Errorf("%s has no authorization rule", route)
			continue
		}
		path := op.Path
		if strings.Contains(op.Path, "{id}") { // resources are created only where a route needs one
			path = strings.ReplaceAll(op.Path, "{id}", resourceFor(op))
		}
		call := func(key string, header map[string]string) apitest.Response {
			req := apitest.Request{Method: op.Method, Path: path, Key: key, Header: header}
			if op.Method == http.MethodPost || op.Method == http.MethodPut {
				req.Body = map[string]any{}
			}
			return env.Do(req)
		}
		expect := func(who string, got apitest.Response, statuses ...int) {
			t.Helper()
			for _, s := range statuses {
				if got.Status == s {
					return
				}
			}
			t.Errorf("%s as %s: %d %s, want one of %v", route, who, got.Status, got.Body, statuses)
		}
		allowed := func(who string, got apitest.Response) {
			t.Helper()
			if got.Status == http.StatusUnauthorized || got.Status == http.StatusForbidden {
				t.Errorf("%s as %s: %d %s, want it allowed", route, who, got.Status, got.Body)
			}
		}

		if want == public {
			expect("anonymous", call("", nil), http.StatusOK)
			continue
		}
		if want == metricsListener {
			expect("anonymous on the API's listener", call("", nil), http.StatusNotFound)
			resp, err := http.Get(env.MetricsURL + op.Path)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("%s on the metrics listener: %v %v", route, resp, err)
			}
			if resp != nil {
				resp.Body.Close()
			}
			continue
		}
		expect("anonymous", call("", nil), http.StatusUnauthorized)
		expect("malformed key", call("", map[string]string{"Authorization": "Bearer not a key at all"}), http.StatusUnauthorized)
		expect("revoked key", call(revokedKey, nil), http.StatusUnauthorized)
		switch want {
		case adminOnly, adminWrite:
			for who, key := range map[string]string{"merchant A": aKey, "merchant B": bKey, "read-only key": readKey} {
				expect(who, call(key, nil), http.StatusForbidden)
			}
			if want == adminWrite {
				expect("read-only admin", call(readAdmin.Plaintext, nil), http.StatusForbidden)
			} else {
				allowed("read-only admin", call(readAdmin.Plaintext, nil))
			}
			allowed("admin", call(env.AdminKey, nil))
		case merchantRead, merchantWrite:
			expect("admin", call(env.AdminKey, nil), http.StatusForbidden)
			if want == merchantWrite {
				expect("read-only key", call(readKey, nil), http.StatusForbidden)
			} else {
				allowed("read-only key", call(readKey, nil))
			}
			if strings.Contains(op.Path, "{id}") {
				expect("merchant B on A's resource", call(bKey, nil), http.StatusNotFound)
			} else {
				allowed("merchant B", call(bKey, nil))
			}
			allowed("merchant A", call(aKey, nil))
		}
	}
}

func issueKey(t *testing.T, env *apitest.Env, merchantID, scope string) string {
	t.Helper()
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/" + merchantID + "/api-keys", Key: env.AdminKey,
		Body: map[string]any{"scope": scope}})
	if r.Status != http.StatusCreated {
		t.Fatalf("issue key: %d %s", r.Status, r.Body)
	}
	return r.JSON()["key"].(string)
}

// echoPathToOpenAPI turns /api/withdrawals/:id into /api/withdrawals/{id}.
func echoPathToOpenAPI(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if strings.HasPrefix(part, ":") {
			parts[i] = "{" + part[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

func randomEVMAddress() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return fmt.Sprintf("0x%s", hex.EncodeToString(b))
}
