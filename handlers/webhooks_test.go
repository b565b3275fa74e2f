package handlers_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/webhookhttp"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/services/webhooks"
)

type endpoint struct {
	ID, URL, Status, Secret string
	Events                  []string
	DisabledReason          *string
	PreviousSecretExpiresAt *string
}

func registerEndpoint(t *testing.T, env *apitest.Env, key string, body map[string]any) endpoint {
	t.Helper()
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints", Key: key, Body: body})
	if r.Status != http.StatusCreated {
		t.Fatalf("register endpoint: %d %s", r.Status, r.Body)
	}
	var ep endpoint
	r.Decode(t, &ep)
	return ep
}

// verified checks a received request with the Standard Webhooks reference library and
// DCE Pay's header.
func verified(t *testing.T, secret string, r apitest.Received) bool {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.Body, r.Header); err != nil {
		t.Errorf("Standard Webhooks verification failed: %v", err)
		return false
	}
	if got, want := r.Header.Get("X-Webhook-Signature"), webhookhttp.SignDCE(secret, r.Body); got != want {
		t.Errorf("X-Webhook-Signature %s, want %s", got, want)
		return false
	}
	return true
}

func TestWebhooksEndToEndThroughTheSandbox(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) { o.Sandbox = rails.SandboxConfig{ConfirmDelay: 300 * time.Millisecond} })
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "1000")
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawal-fees", Key: env.AdminKey,
		Body: map[string]any{"baseFee": "1", "markupRate": "0.05", "enabled": true}})
	receiver := apitest.NewReceiver(t, nil)
	ep := registerEndpoint(t, env, key, map[string]any{"url": receiver.URL, "description": "orders"})
	if !strings.HasPrefix(ep.Secret, "whsec_") || len(ep.Events) != len(webhooks.EventTypes) || ep.Status != "enabled" {
		t.Fatalf("endpoint %+v", ep)
	}

	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: map[string]any{
		"token": "USDT", "amount": "100", "address": apitest.ETHAddress,
		"metadata": map[string]any{"orderId": "order_123", "customerEmail": "customer@example.com"}}})
	id := r.JSON()["id"].(string)
	env.StartJobs()
	env.WaitFor(20*time.Second, "three webhooks", func() bool { return len(receiver.Requests()) >= 3 })

	byEvent := map[string]map[string]any{}
	for _, req := range receiver.Requests() {
		evtID, event, data := req.Event()
		if !verified(t, ep.Secret, req) {
			continue
		}
		if !strings.HasPrefix(evtID, "evt_") || req.Header.Get("webhook-id") != evtID {
			t.Errorf("event id %q, webhook-id %q", evtID, req.Header.Get("webhook-id"))
		}
		if data["id"] != id {
			t.Errorf("%s is about %v", event, data["id"])
		}
		byEvent[event] = data
	}
	for _, want := range []string{"withdrawal.pending", "withdrawal.processing", "withdrawal.confirmed"} {
		if byEvent[want] == nil {
			t.Errorf("no %s webhook; got %v", want, receiver.Requests())
		}
	}
	confirmed := byEvent["withdrawal.confirmed"]
	if confirmed == nil {
		t.FailNow()
	}
	metadata := confirmed["metadata"].(map[string]any)
	calc, _ := metadata["feeCalculation"].(map[string]any)
	if confirmed["status"] != "confirmed" || confirmed["amount"] != "100" || confirmed["fee"] != "6" || confirmed["netAmount"] != "94" ||
		confirmed["commission"] != "6" || confirmed["commissionRate"] != "0.05" || confirmed["txHash"] == nil || confirmed["confirmedAt"] == nil ||
		metadata["orderId"] != "order_123" || calc["baseFee"] != "1" || calc["markupRate"] != "0.05" || calc["totalFee"] != "6" || calc["netAmount"] != "94" {
		t.Errorf("confirmed payload: %v", confirmed)
	}

	var deliveries struct {
		Deliveries []struct {
			Status       string
			AttemptCount int
			Attempts     []struct{ HTTPStatus *int }
		}
	}
	// The receiver answers before the worker records the attempt: wait for the record.
	env.WaitFor(10*time.Second, "three succeeded deliveries", func() bool {
		env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/webhook-deliveries?endpointId=" + ep.ID + "&status=succeeded", Key: key}).Decode(t, &deliveries)
		return len(deliveries.Deliveries) >= 3
	})
	if len(deliveries.Deliveries) != 3 || deliveries.Deliveries[0].AttemptCount != 1 || *deliveries.Deliveries[0].Attempts[0].HTTPStatus != 200 {
		t.Errorf("deliveries: %+v", deliveries)
	}
}

func TestWebhookFailedFirstAttemptsAreRetriedWithTheSameEventID(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "BTC", "1")
	receiver := apitest.NewReceiver(t, apitest.FailFirst(3))
	ep := registerEndpoint(t, env, key, map[string]any{"url": receiver.URL, "events": []string{"withdrawal.pending"}})
	env.Withdraw(key, "BTC", "0.01", apitest.BTCAddress)
	env.StartJobs()

	type delivery struct {
		ID, EventID, Status string
		AttemptCount        int
		Attempts            []struct {
			HTTPStatus *int
			LatencyMs  int
			Error      *string
		}
	}
	var list struct{ Deliveries []delivery }
	env.WaitFor(20*time.Second, "the delivery to succeed", func() bool {
		list.Deliveries = nil
		env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/webhook-deliveries?eventType=withdrawal.pending", Key: key}).Decode(t, &list)
		return len(list.Deliveries) == 1 && list.Deliveries[0].Status == "succeeded"
	})
	got := receiver.Requests()
	if len(got) != 4 {
		t.Fatalf("receiver got %d requests, want 4 (3 failures, then success)", len(got))
	}
	for _, r := range got {
		if id, _, _ := r.Event(); id != list.Deliveries[0].EventID || r.Header.Get("webhook-id") != id {
			t.Errorf("event id changed across retries: %s vs %s", id, list.Deliveries[0].EventID)
		}
		verified(t, ep.Secret, r)
	}
	d := list.Deliveries[0]
	if d.AttemptCount != 4 || len(d.Attempts) != 4 {
		t.Fatalf("delivery %+v", d)
	}
	for i, a := range d.Attempts {
		want := 500
		if i == 3 {
			want = 200
		}
		if a.HTTPStatus == nil || *a.HTTPStatus != want || (want == 500) != (a.Error != nil) {
			t.Errorf("attempt %d: %+v", i, a)
		}
	}

	// A delivery that succeeded is not sent again.
	retry := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-deliveries/" + d.ID + "/retry", Key: key})
	if retry.Status != http.StatusConflict || retry.ErrorCode() != "INVALID_STATE" {
		t.Fatalf("retry of a delivered event: %d %s", retry.Status, retry.Body)
	}
}

func TestWebhookEndpointManagement(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	_, key := env.Merchant("Acme")
	_, otherKey := env.Merchant("Other")
	receiver := apitest.NewReceiver(t, nil)
	ep := registerEndpoint(t, env, key, map[string]any{"url": receiver.URL, "events": []string{"withdrawal.confirmed", "withdrawal.failed"}})

	var list struct{ Endpoints []map[string]any }
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/webhook-endpoints", Key: key}).Decode(t, &list)
	if len(list.Endpoints) != 1 || list.Endpoints[0]["secret"] != nil {
		t.Errorf("listing shows a secret or misses the endpoint: %v", list)
	}
	for _, body := range []map[string]any{
		{"url": "ftp://merchant.example/hook"},
		{"url": "not a url"},
		{"url": receiver.URL, "events": []string{"withdrawal.exploded"}},
		{"url": receiver.URL, "secret": "mine"},
		{},
	} {
		if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints", Key: key, Body: body}); r.Status != http.StatusBadRequest {
			t.Errorf("%v: %d %s", body, r.Status, r.Body)
		}
	}

	// Another merchant cannot touch it.
	for _, r := range []apitest.Request{
		{Method: http.MethodDelete, Path: "/api/webhook-endpoints/" + ep.ID, Key: otherKey},
		{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + ep.ID + "/rotate-secret", Key: otherKey},
		{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + ep.ID + "/test", Key: otherKey},
	} {
		if got := env.Do(r); got.Status != http.StatusNotFound {
			t.Errorf("other merchant %s %s: %d", r.Method, r.Path, got.Status)
		}
	}

	// Rotation: the new secret is returned once; both sign for 24 hours.
	var rotated endpoint
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + ep.ID + "/rotate-secret", Key: key}).Decode(t, &rotated)
	if rotated.Secret == "" || rotated.Secret == ep.Secret || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotated: %+v", rotated)
	}
	ping := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + ep.ID + "/test", Key: key})
	if ping.Status != http.StatusAccepted || ping.JSON()["event"] != "ping" {
		t.Fatalf("test: %d %s", ping.Status, ping.Body)
	}
	env.StartJobs()
	env.WaitFor(10*time.Second, "the ping", func() bool { return len(receiver.Requests()) == 1 })
	got := receiver.Requests()[0]
	if sigs := strings.Fields(got.Header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("want two signatures during rotation, got %q", got.Header.Get("webhook-signature"))
	}
	for _, secret := range []string{rotated.Secret, ep.Secret} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(got.Body, got.Header); err != nil {
			t.Errorf("a secret of the rotation does not verify: %v", err)
		}
	}

	if r := env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/webhook-endpoints/" + ep.ID, Key: key}); r.Status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.Status, r.Body)
	}
	if r := env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/webhook-endpoints/" + ep.ID, Key: key}); r.Status != http.StatusNotFound {
		t.Errorf("delete twice: %d", r.Status)
	}
}

func TestWebhookGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) { o.StartJobs = true })
	_, key := env.Merchant("Acme")
	receiver := apitest.NewReceiver(t, func(int, *http.Request) int { return http.StatusGone })
	ep := registerEndpoint(t, env, key, map[string]any{"url": receiver.URL})
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + ep.ID + "/test", Key: key})
	env.WaitFor(10*time.Second, "the endpoint to be disabled", func() bool {
		var list struct{ Endpoints []endpoint }
		env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/webhook-endpoints", Key: key}).Decode(t, &list)
		return list.Endpoints[0].Status == "disabled" && list.Endpoints[0].DisabledReason != nil && *list.Endpoints[0].DisabledReason == "gone"
	})
	if n := len(receiver.Requests()); n != 1 {
		t.Errorf("a 410 was retried: %d requests", n)
	}
}

func TestPrivateWebhookURLsAreRefusedByDefault(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) { o.Webhooks.AllowPrivateURLs = false })
	_, key := env.Merchant("Acme")
	for _, url := range []string{"http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://10.1.2.3/hook", "http://[::1]/hook"} {
		r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints", Key: key, Body: map[string]any{"url": url}})
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", url, r.Status, r.Body)
		}
	}
}

// A receiver that hangs holds one delivery worker at most: other merchants' webhooks
// still arrive while it hangs.
func TestSlowEndpointDoesNotDelayOtherMerchants(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	slow := apitest.NewReceiver(t, func(int, *http.Request) int {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		return http.StatusOK
	})
	fast := apitest.NewReceiver(t, nil)
	_, slowKey := env.Merchant("Slow")
	_, fastKey := env.Merchant("Fast")
	slowEP := registerEndpoint(t, env, slowKey, map[string]any{"url": slow.URL})
	fastEP := registerEndpoint(t, env, fastKey, map[string]any{"url": fast.URL})
	env.StartJobs()
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + slowEP.ID + "/test", Key: slowKey})
	env.WaitFor(10*time.Second, "the slow receiver to be hanging", func() bool { return len(slow.Requests()) == 1 })
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + fastEP.ID + "/test", Key: fastKey})
	env.WaitFor(10*time.Second, "the fast merchant's webhook while the slow one hangs", func() bool { return len(fast.Requests()) == 1 })
	// The slow attempt is still in flight: no attempt of it has been recorded yet.
	var slowAttempts int64
	env.DB.Table("webhook_attempts").Joins("JOIN webhook_deliveries d ON d.id = webhook_attempts.delivery_id").
		Where("d.endpoint_id = ?", slowEP.ID).Count(&slowAttempts)
	if slowAttempts != 0 {
		t.Errorf("the fast webhook waited for the slow receiver (%d slow attempts finished first)", slowAttempts)
	}
	once.Do(func() { close(release) })
}

// An endpoint that keeps failing for WEBHOOK_DISABLE_AFTER is disabled, and the
// merchant sees why; time is moved by the test's clock, not slept through.
func TestContinuouslyFailingEndpointIsDisabled(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	env := apitest.New(t, func(o *apitest.Options) {
		o.Clock = clock
		o.Webhooks.DisableAfter = 72 * time.Hour
	})
	_, key := env.Merchant("Acme")
	receiver := apitest.NewReceiver(t, func(int, *http.Request) int { return http.StatusServiceUnavailable })
	ep := registerEndpoint(t, env, key, map[string]any{"url": receiver.URL})
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints/" + ep.ID + "/test", Key: key})
	var deliveryID string
	env.DB.Raw(`SELECT id FROM webhook_deliveries WHERE endpoint_id = ?`, ep.ID).Scan(&deliveryID)

	// The worker's attempts, driven directly (jobs not started).
	ctx := t.Context()
	if _, err := env.App.Webhooks.Deliver(ctx, deliveryID, 1, false); err == nil {
		t.Fatal("a 503 was not reported for retry")
	}
	advance(71 * time.Hour)
	if _, err := env.App.Webhooks.Deliver(ctx, deliveryID, 1, false); err == nil {
		t.Fatal("disabled too early")
	}
	var list struct {
		Endpoints []struct{ Status, FailingSince string }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/webhook-endpoints", Key: key}).Decode(t, &list)
	if list.Endpoints[0].Status != "enabled" || list.Endpoints[0].FailingSince == "" {
		t.Errorf("after 71h: %+v", list)
	}
	advance(2 * time.Hour)
	if _, err := env.App.Webhooks.Deliver(ctx, deliveryID, 1, false); err != nil {
		t.Fatalf("the last attempt should settle the delivery: %v", err)
	}
	var after struct{ Endpoints []endpoint }
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/webhook-endpoints", Key: key}).Decode(t, &after)
	if after.Endpoints[0].Status != "disabled" || after.Endpoints[0].DisabledReason == nil || *after.Endpoints[0].DisabledReason != "failing" {
		t.Errorf("after 73h of failures: %+v", after.Endpoints[0])
	}
	var status string
	env.DB.Raw(`SELECT status FROM webhook_deliveries WHERE id = ?`, deliveryID).Scan(&status)
	if status != "failed" || len(receiver.Requests()) != 3 {
		t.Errorf("delivery %s after %d requests", status, len(receiver.Requests()))
	}
}
