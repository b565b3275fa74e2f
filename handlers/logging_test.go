package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/rails"
)

// syncBuffer is written by the service's goroutines and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsCarryRequestIDsAndNoSecrets(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	provider := &recordingProvider{timeouts: -1} // provider failures get logged
	env := apitest.New(t, func(o *apitest.Options) {
		o.LogTo = &logs
		o.Provider = provider
	})
	provider.Provider = rails.NewSandbox(env.DB, rails.SandboxConfig{})
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "BTC", "1")
	receiver := apitest.NewReceiver(t, apitest.FailFirst(1))
	ep := registerEndpoint(t, env, key, map[string]any{"url": receiver.URL})

	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Header: map[string]string{"X-Request-ID": "trace-abc-123"},
		Body:   map[string]any{"token": "BTC", "amount": "0.01", "address": apitest.BTCAddress}})
	if r.Header.Get("X-Request-ID") != "trace-abc-123" {
		t.Errorf("request id not echoed: %q", r.Header.Get("X-Request-ID"))
	}
	if got := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: key}).Header.Get("X-Request-ID"); !strings.HasPrefix(got, "req_") {
		t.Errorf("no generated request id: %q", got)
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: "wk_wrong_key_in_a_header"})
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Header: map[string]string{"X-Request-ID": "bad id with spaces"}})

	ctx := context.Background()
	batches, err := env.App.Payouts.ClaimAll(ctx)
	if err != nil || len(batches) != 1 {
		t.Fatalf("claim: %v %v", batches, err)
	}
	if err := env.App.Payouts.Submit(ctx, batches[0]); err == nil {
		t.Fatal("the failing provider succeeded")
	}
	env.StartJobs()
	env.WaitFor(10*time.Second, "webhook deliveries", func() bool { return len(receiver.Requests()) >= 2 })

	out := logs.String()
	var requestLines int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if entry["msg"] == "request" {
			requestLines++
			if entry["request_id"] == nil || entry["route"] == nil || entry["status"] == nil {
				t.Errorf("access line without request id, route or status: %s", line)
			}
		}
	}
	if requestLines < 5 || !strings.Contains(out, `"request_id":"trace-abc-123"`) || !strings.Contains(out, "payout provider call failed") {
		t.Errorf("expected access lines, the client's request id and the provider failure in the log:\n%s", out)
	}
	for name, secret := range map[string]string{
		"merchant key": key, "admin key": env.AdminKey, "webhook secret": ep.Secret,
		"rejected key": "wk_wrong_key_in_a_header", "destination address": apitest.BTCAddress,
		"unsafe request id": "bad id with spaces",
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
}
