package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

// With WEBHOOK_ALLOW_PRIVATE_URLS off, a receiver URL must name a globally routable
// unicast destination: zoned IPv6 and every prefix that translates or tunnels to IPv4
// are refused at registration, and a name that resolves to loopback is refused at
// connect time, the attempt showing the merchant a class, never the address.
func TestWebhookDestinationsMustBeGloballyRoutable(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) { o.Webhooks.AllowPrivateURLs = false })
	_, key := env.Merchant("Acme")
	for _, url := range []string{
		"http://[::1%25lo]:8080/hook", "http://[fe80::1%25eth0]/hook", "http://[64:ff9b::7f00:1]/hook",
		"http://[64:ff9b:1::a00:1]/hook", "http://[2002:7f00:1::1]/hook", "http://[::7f00:1]/hook",
		"http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "http://[fec0::1]/hook", "http://[100::1]/hook",
		"http://127.0.0.1/hook", "http://169.254.169.254/latest", "http://[::ffff:10.0.0.1]/hook",
	} {
		r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints", Key: key, Body: map[string]any{"url": url}})
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "INVALID_REQUEST" {
			t.Errorf("%s: %d %s", url, r.Status, r.Body)
		}
	}
	var endpoints int64
	env.DB.Table("webhook_endpoints").Count(&endpoints)
	if endpoints != 0 {
		t.Fatalf("%d endpoints registered", endpoints)
	}

	// A name is checked where it leads: localhost resolves to loopback.
	var hits atomic.Int32
	receiver := apitest.NewReceiver(t, func(int, *http.Request) int { hits.Add(1); return http.StatusOK })
	ep := registerEndpoint(t, env, key, map[string]any{"url": strings.Replace(receiver.URL, "127.0.0.1", "localhost", 1)})
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + ep.ID + "/test", Key: key})
	env.StartJobs()
	var errs []string
	env.WaitFor(20*time.Second, "the attempt to be refused", func() bool {
		errs = nil
		env.DB.Raw(`SELECT a.error FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = ?`, ep.ID).Scan(&errs)
		return len(errs) > 0
	})
	if errs[0] != "blocked_destination" {
		t.Errorf("attempt error %q, want the class blocked_destination", errs[0])
	}
	if hits.Load() != 0 {
		t.Errorf("the loopback receiver was reached %d times", hits.Load())
	}
	r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/webhook-deliveries", Key: key})
	if strings.Contains(string(r.Body), "127.0.0.1") || strings.Contains(string(r.Body), "::1") {
		t.Errorf("the delivery log shows an address: %s", r.Body)
	}
}

// A body means what it says: only the contract's exact field names bind. encoding/json
// alone matched "AMOUNT", "Amount", "addreſs" (U+017F) and "toKen" (U+212A, Kelvin).
func TestWriteBodiesAcceptOnlyExactFieldNames(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "1000")
	addr := `"address":"` + apitest.ETHAddress + `"`
	for name, body := range map[string]string{
		"case duplicate":       `{"token":"USDT","amount":"3","AMOUNT":"900",` + addr + `}`,
		"capitalised":          `{"token":"USDT","Amount":"900",` + addr + `}`,
		"long s (U+017F)":      `{"token":"USDT","amount":"900","addre` + "\u017f" + `s":"` + apitest.ETHAddress + `"}`,
		"kelvin sign (U+212A)": `{"to` + "\u212a" + `en":"USDT","amount":"900",` + addr + `}`,
		"escaped kelvin sign":  `{"to\u212aen":"USDT","amount":"900",` + addr + `}`,
		"upper-case metadata":  `{"token":"USDT","amount":"900",` + addr + `,"METADATA":{"a":1}}`,
	} {
		r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: []byte(body)})
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "INVALID_REQUEST" || !strings.Contains(string(r.Body), "Unknown field") {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	// Every write endpoint: a field spelled in another case is unknown.
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/admin/merchants", `{"Name":"x"}`},
		{http.MethodPost, "/api/admin/merchants/" + merchantID + "/credits", `{"token":"USDT","amount":"1","REFERENCE":"r"}`},
		{http.MethodPost, "/api/admin/merchants/" + merchantID + "/api-keys", `{"SCOPE":"read"}`},
		{http.MethodPost, "/api/admin/withdrawal-fees", `{"baseFee":"1","markupRate":"0","Enabled":true}`},
		{http.MethodPut, "/api/admin/withdrawal-fees", `{"amount":"100","Currency":"USDT"}`},
		{http.MethodPut, "/api/admin/sandbox", `{"FAULT":"stall"}`},
		{http.MethodPost, "/api/webhook-endpoints", `{"URL":"https://merchant.example/h"}`},
		{http.MethodPost, "/api/whitelist", `{"token":"USDT","Address":"` + apitest.ETHAddress + `"}`},
		{http.MethodPut, "/api/whitelist/settings", `{"ENABLED":true}`},
	} {
		k := key
		if strings.HasPrefix(c.path, "/api/admin") {
			k = env.AdminKey
		}
		r := env.Do(apitest.Request{Method: c.method, Path: c.path, Key: k, Body: []byte(c.body)})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "Unknown field") {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, r.Status, r.Body)
		}
	}
	var n int64
	env.DB.Table("withdrawals").Count(&n)
	if available, _ := env.Balance(key, "USDT"); n != 0 || available.String() != "1000" {
		t.Errorf("%d withdrawals, available %s", n, available)
	}
}

// Metadata numbers are kept as written and bounded: an exponent or an over-long number
// is refused, so no answer can grow far past the request that stored it.
func TestMetadataCannotInflateResponses(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "1000")
	create := func(metadata string) apitest.Response {
		return env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
			Body: []byte(`{"token":"USDT","amount":"10","address":"` + apitest.ETHAddress + `","metadata":` + metadata + `}`)})
	}
	for _, metadata := range []string{
		`{"n":1e131071}`, `{"n":1e131072}`, `{"n":1E5}`, `{"n":-2.5e-3}`, `{"deep":{"list":[1,2,3e4]}}`,
		`{"n":` + strings.Repeat("9", 41) + `}`,
	} {
		if r := create(metadata); r.Status != http.StatusBadRequest || r.ErrorCode() != "INVALID_REQUEST" {
			t.Errorf("%s: %d %s", metadata, r.Status, r.Body)
		}
	}
	exact := `{"big":` + strings.Repeat("9", 40) + `,"fraction":12345678901234567891.50,"neg":-0.000000000000000000001}`
	r := create(exact)
	if r.Status != http.StatusCreated {
		t.Fatalf("plain numbers: %d %s", r.Status, r.Body)
	}
	id := r.JSON()["id"].(string)
	got := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/" + id, Key: key})
	for _, want := range []string{`"big":` + strings.Repeat("9", 40), `"fraction":12345678901234567891.50`, `"neg":-0.000000000000000000001`} {
		if !strings.Contains(string(got.Body), want) {
			t.Errorf("metadata number not returned as written (%s): %s", want, got.Body)
		}
	}

	// Characters a JSON writer might escape come back as they were sent.
	request := `{"token":"USDT","amount":"10","address":"` + apitest.ETHAddress + `","metadata":{"note":"` + strings.Repeat("<>&", 1300) + `"}}`
	r = env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: []byte(request)})
	if r.Status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.Status, r.Body)
	}
	got = env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/" + r.JSON()["id"].(string), Key: key})
	if len(got.Body) > len(request)+2048 {
		t.Errorf("a %d-byte request reads back as %d bytes", len(request), len(got.Body))
	}
	list := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals", Key: key})
	if len(list.Body) > 2*(len(request)+2048) {
		t.Errorf("two withdrawals list as %d bytes", len(list.Body))
	}
}

// NUL cannot be stored by PostgreSQL; it is refused at binding (400), wherever it
// appears, and a request carrying one cannot fail the requests written with it.
func TestNULIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "1000")
	ep := registerEndpoint(t, env, key, map[string]any{"url": "https://merchant.example/hooks"})
	for _, c := range []struct {
		method, path, k string
		body            any
	}{
		{http.MethodPost, "/api/withdrawals", key, `{"token":"USDT","amount":"10","address":"` + apitest.ETHAddress + `","metadata":{"note":"a\u0000b"}}`},
		{http.MethodPost, "/api/withdrawals", key, `{"token":"USDT","amount":"10","address":"` + apitest.ETHAddress + `","metadata":{"a\u0000":1}}`},
		{http.MethodPost, "/api/whitelist", key, `{"token":"USDT","address":"` + apitest.ETHAddress + `","label":"x\u0000"}`},
		{http.MethodPost, "/api/webhook-endpoints", key, `{"url":"https://merchant.example/h","description":"\u0000"}`},
		{http.MethodPost, "/api/admin/merchants", env.AdminKey, `{"name":"Evil\u0000Corp"}`},
		{http.MethodPost, "/api/admin/merchants/" + merchantID + "/credits", env.AdminKey, `{"token":"USDT","amount":"1","reference":"r\u0000"}`},
		{http.MethodGet, "/api/withdrawals/%00", key, nil},
		{http.MethodGet, "/api/withdrawals?token=%00", key, nil},
		{http.MethodGet, "/api/webhook-deliveries?endpointId=" + ep.ID + "%00", key, nil},
		{http.MethodGet, "/api/admin/withdrawals?merchantId=%00", env.AdminKey, nil},
		{http.MethodGet, "/api/admin/audit-log?actor=%00", env.AdminKey, nil},
	} {
		req := apitest.Request{Method: c.method, Path: c.path, Key: c.k}
		if s, ok := c.body.(string); ok {
			req.Body = []byte(s)
		}
		if r := env.Do(req); r.Status != http.StatusBadRequest || r.ErrorCode() != "INVALID_REQUEST" {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}

	// Concurrent creates of many merchants, one of them with a NUL: only that one fails.
	keys := make([]string, 12)
	for i := range keys {
		id, k := env.Merchant(fmt.Sprintf("m%d", i))
		env.Credit(id, "USDT", "100")
		keys[i] = k
	}
	var wg sync.WaitGroup
	statuses := make([]int, len(keys))
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			note := "ok"
			if i == 0 {
				note = `bad\u0000`
			}
			r, err := env.Send(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: k,
				Body: []byte(`{"token":"USDT","amount":"10","address":"` + apitest.ETHAddress + `","metadata":{"note":"` + note + `"}}`)})
			if err != nil {
				t.Error(err)
			}
			statuses[i] = r.Status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if want := map[bool]int{true: http.StatusBadRequest, false: http.StatusCreated}[i == 0]; s != want {
			t.Errorf("merchant %d: %d, want %d", i, s, want)
		}
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// Failed authentication is limited per client address: past the allowance every
// attempt from it is 429 with Retry-After, before any key is looked at.
func TestFailedAuthenticationIsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) { o.AuthFailures = 5 })
	_, key := env.Merchant("Acme")
	if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: key}); r.Status != http.StatusOK {
		t.Fatalf("a good key: %d", r.Status)
	}
	for i := range 5 {
		bad := fmt.Sprintf("wk_%040d", i)
		if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: bad}); r.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i, r.Status, r.Body)
		}
	}
	for _, k := range []string{"not-a-key", key} {
		r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: k})
		if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "RATE_LIMITED" || r.Header.Get("Retry-After") == "" {
			t.Errorf("after 5 failures, %.10s: %d %s", k, r.Status, r.Body)
		}
	}
}

// hangingReceiver answers nothing until released, and counts requests and the most in
// flight at once.
type hangingReceiver struct {
	*apitest.Receiver
	release           chan struct{}
	inFlight, maxSeen atomic.Int32
	mu                sync.Mutex
}

func newHangingReceiver(t *testing.T) *hangingReceiver {
	h := &hangingReceiver{release: make(chan struct{})}
	h.Receiver = apitest.NewReceiver(t, func(int, *http.Request) int {
		n := h.inFlight.Add(1)
		h.mu.Lock()
		if n > h.maxSeen.Load() {
			h.maxSeen.Store(n)
		}
		h.mu.Unlock()
		defer h.inFlight.Add(-1)
		<-h.release
		return http.StatusOK
	})
	t.Cleanup(h.free)
	return h
}

func (h *hangingReceiver) free() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

// Retries never put a second attempt of a delivery in flight: ten concurrent retries
// of a delivery whose receiver hangs change nothing.
func TestWebhookRetriesNeverMultiplySends(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) { o.Webhooks.Timeout = 20 * time.Second })
	_, key := env.Merchant("Acme")
	receiver := newHangingReceiver(t)
	ep := registerEndpoint(t, env, key, map[string]any{"url": receiver.URL})
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + ep.ID + "/test", Key: key})
	var deliveryID string
	env.DB.Raw(`SELECT id FROM webhook_deliveries WHERE endpoint_id = ?`, ep.ID).Scan(&deliveryID)
	env.StartJobs()
	env.WaitFor(20*time.Second, "the first attempt to reach the receiver", func() bool { return receiver.inFlight.Load() == 1 })

	answers := env.SendConcurrently(10, apitest.Request{Method: http.MethodPost, Path: "/api/webhook-deliveries/" + deliveryID + "/retry", Key: key})
	for _, a := range answers {
		if a.Status != http.StatusAccepted || a.JSON()["status"] != "pending" {
			t.Errorf("retry: %d %s", a.Status, a.Body)
		}
	}
	var jobs int64
	env.DB.Raw(`SELECT count(*) FROM river_job WHERE args->>'delivery_id' = ?`, deliveryID).Scan(&jobs)
	if jobs != 1 {
		t.Errorf("%d jobs for one delivery", jobs)
	}
	// A second job for the delivery (as a rescue would make) finds the attempt in flight
	// and waits for the end of its lease.
	if wait, err := env.App.Webhooks.Deliver(context.Background(), deliveryID, -1, false); wait <= 0 || err != nil {
		t.Errorf("a second attempt while one is in flight: wait %v, err %v", wait, err)
	}
	receiver.free()
	env.WaitFor(20*time.Second, "the delivery to succeed", func() bool {
		var status string
		env.DB.Raw(`SELECT status FROM webhook_deliveries WHERE id = ?`, deliveryID).Scan(&status)
		return status == "succeeded"
	})
	if n := len(receiver.Requests()); n != 1 || receiver.maxSeen.Load() != 1 {
		t.Errorf("the receiver got %d requests, %d at once; want exactly one", n, receiver.maxSeen.Load())
	}
}

// One merchant's hanging receiver holds at most WEBHOOK_MERCHANT_CONCURRENCY delivery
// workers: another merchant's events are delivered meanwhile.
func TestOneSlowReceiverCannotDelayOtherMerchants(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) {
		o.Webhooks.Timeout = 30 * time.Second
		o.Webhooks.MerchantConcurrency = 2 // of the test server's 4 delivery workers
	})
	_, slowKey := env.Merchant("Slow")
	_, fastKey := env.Merchant("Fast")
	slow := newHangingReceiver(t)
	slowEP := registerEndpoint(t, env, slowKey, map[string]any{"url": slow.URL})
	for range 8 {
		env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + slowEP.ID + "/test", Key: slowKey})
	}
	env.StartJobs()
	env.WaitFor(20*time.Second, "the slow receiver to hold its share", func() bool { return slow.inFlight.Load() == 2 })

	fast := apitest.NewReceiver(t, nil)
	fastEP := registerEndpoint(t, env, fastKey, map[string]any{"url": fast.URL})
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + fastEP.ID + "/test", Key: fastKey})
	env.WaitFor(25*time.Second, "the other merchant's event while the slow receiver hangs", func() bool { return len(fast.Requests()) == 1 })
	if slow.maxSeen.Load() > 2 || len(slow.Requests()) > 2 {
		t.Errorf("the slow merchant had %d attempts in flight, %d sent", slow.maxSeen.Load(), len(slow.Requests()))
	}
	slow.free()
}

// Parallel registrations cannot pass the endpoint limit.
func TestEndpointLimitHoldsUnderParallelRequests(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	_, key := env.Merchant("Acme")
	answers := env.SendConcurrently(40, apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints", Key: key,
		Body: map[string]any{"url": "https://merchant.example/hooks"}})
	created := 0
	for _, a := range answers {
		switch a.Status {
		case http.StatusCreated:
			created++
		case http.StatusBadRequest:
		default:
			t.Errorf("%d %s", a.Status, a.Body)
		}
	}
	var n int64
	env.DB.Table("webhook_endpoints").Count(&n)
	if created != 16 || n != 16 {
		t.Errorf("%d created, %d stored; the limit is 16", created, n)
	}
}
