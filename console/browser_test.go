package console_test

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

// TestConsoleInABrowser runs the console's journeys (tools/console/journeys.test.mjs) in
// headless Chromium, driven by playwright-core, against the real binary on its own
// database: a merchant creating a withdrawal and watching it confirm, a bad address
// refused beside its field, an operator resolving a flagged batch and changing a fee
// after previewing it, a read-only key, a form post without its CSRF token, an
// accessibility check of the main pages, and the API reference at /docs rendered with no
// other host asked. Screenshots go to bin/screenshots.
func TestConsoleInABrowser(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("..")
	chromium := cmp.Or(os.Getenv("CHROMIUM"), "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is needed at %s: run scripts/chromium.sh (make test does)", chromium)
	}
	if _, err := os.Stat(filepath.Join(root, "tools/console/node_modules/playwright-core")); err != nil {
		t.Fatal("playwright-core is needed: run scripts/console-tools.sh (make test does)")
	}
	_, dbURL := testdb.New(t)
	// A payout budget small enough for a dead rail to be flagged fast.
	svc := apitest.StartBinary(t, root, dbURL, "PAYOUT_PROVIDER_TIMEOUT=1s", "PAYOUT_MAX_ATTEMPTS=2",
		"PAYOUT_RETRY_BASE=100ms", "PAYOUT_RETRY_MAX=200ms")

	api := apitest.Remote(t, svc.URL, svc.AdminKey)
	merchantA, keyA := api.Merchant("Acme Payroll")
	api.Credit(merchantA, "USDT", "1000")
	readKey := issueKey(t, api, merchantA, "read")
	// A webhook receiver for merchant A, so its withdrawals' pages list deliveries.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	if r := api.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints", Key: keyA,
		Body: map[string]any{"url": receiver.URL + "/hooks", "description": "orders"}}); r.Status != http.StatusCreated {
		t.Fatalf("webhook endpoint: %d %s", r.Status, r.Body)
	}
	merchantB, keyB := api.Merchant("Beta Shop")
	api.Credit(merchantB, "ETH", "5")

	// A batch the rail never answered, flagged for review with its funds locked.
	setFault(t, api, "unavailable")
	api.Withdraw(keyB, "ETH", "1", apitest.ETHAddress)
	var flagged string
	api.WaitFor(60*time.Second, "a batch flagged for review", func() bool {
		var page struct{ Batches []struct{ ID string } }
		api.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/payout-batches?status=needs_review", Key: api.AdminKey}).Decode(t, &page)
		if len(page.Batches) == 1 {
			flagged = page.Batches[0].ID
		}
		return flagged != ""
	})
	setFault(t, api, "")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", "tools/console/journeys.test.mjs")
	node.Dir = root
	node.Env = append(os.Environ(), "CONSOLE_URL="+svc.URL, "ADMIN_KEY="+svc.AdminKey, "MERCHANT_KEY="+keyA, "READ_KEY="+readKey,
		"MERCHANT_B_KEY="+keyB, "FLAGGED_BATCH="+flagged, "RECEIVER_URL="+receiver.URL, "CHROMIUM="+chromium, "SCREENSHOTS="+filepath.Join(root, "bin/screenshots"))
	out, err := node.CombinedOutput()
	t.Logf("journeys:\n%s", out)
	if err != nil {
		t.Fatalf("the browser journeys failed: %v", err)
	}
}

func issueKey(t *testing.T, api *apitest.Env, merchantID, scope string) string {
	t.Helper()
	r := api.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/" + merchantID + "/api-keys", Key: api.AdminKey,
		Body: map[string]any{"name": scope + " key", "scope": scope}})
	if r.Status != http.StatusCreated {
		t.Fatalf("issue key: %d %s", r.Status, r.Body)
	}
	return r.JSON()["key"].(string)
}

func setFault(t *testing.T, api *apitest.Env, fault string) {
	t.Helper()
	if r := api.Do(apitest.Request{Method: http.MethodPut, Path: "/api/admin/sandbox", Key: api.AdminKey, Body: map[string]any{"fault": fault}}); r.Status != http.StatusOK {
		t.Fatalf("sandbox fault %q: %d %s", fault, r.Status, r.Body)
	}
}
