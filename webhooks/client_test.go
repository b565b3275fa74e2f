package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycore/withdrawals/webhooks"
)

func TestDialRefusesEveryForbiddenAddressClass(t *testing.T) {
	t.Parallel()
	// A live receiver on loopback proves the refusal is the dial check, not a closed port.
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]

	client := webhooks.NewClient(2*time.Second, false)
	for name, target := range map[string]string{
		"loopback literal":           "http://127.0.0.1:" + port + "/hook",
		"hostname resolving to 127.": "http://localhost:" + port + "/hook",
		"IPv6 loopback":              "http://[::1]:" + port + "/hook",
		"private 10/8":               "http://10.0.0.1/hook",
		"private 172.16/12":          "http://172.16.0.1/hook",
		"private 192.168/16":         "http://192.168.1.1/hook",
		"link-local cloud metadata":  "http://169.254.169.254/latest/meta-data",
		"multicast":                  "http://224.0.0.1/hook",
		"unspecified":                "http://0.0.0.0:" + port + "/hook",
		"shared address space":       "http://100.64.0.1/hook",
		"IPv4-mapped IPv6 loopback":  "http://[::ffff:127.0.0.1]:" + port + "/hook",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		res := webhooks.Post(ctx, client, target, nil, []byte(`{}`))
		cancel()
		if !errors.Is(res.Err, webhooks.ErrForbiddenAddress) {
			t.Errorf("%s (%s): got status %d, err %v; want ErrForbiddenAddress", name, target, res.StatusCode, res.Err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback receiver was reached %d times", n)
	}

	// With private URLs allowed (local development) the same receiver is reached.
	res := webhooks.Post(context.Background(), webhooks.NewClient(2*time.Second, true), srv.URL, nil, []byte(`{}`))
	if res.Err != nil || res.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Errorf("allowed: %+v, hits %d", res, hits.Load())
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Store(true) }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	res := webhooks.Post(context.Background(), webhooks.NewClient(2*time.Second, true), redirect.URL, nil, []byte(`{}`))
	if res.StatusCode != http.StatusTemporaryRedirect || followed.Load() {
		t.Errorf("status %d, followed %v", res.StatusCode, followed.Load())
	}
}

func TestRetryAfterIsRead(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	res := webhooks.Post(context.Background(), webhooks.NewClient(2*time.Second, true), srv.URL, nil, []byte(`{}`))
	if res.StatusCode != http.StatusTooManyRequests || res.RetryAfter != 2*time.Minute {
		t.Errorf("%+v", res)
	}
}

func TestValidateURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"https://merchant.example/hooks", "http://merchant.example:8443/h?x=1"} {
		if err := webhooks.ValidateURL(ok, false); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"ftp://merchant.example", "merchant.example/hook", "https://user:pw@merchant.example", "https://127.0.0.1/h", "http://[::1]/h", "http://169.254.169.254/", "javascript:alert(1)", ""} {
		if err := webhooks.ValidateURL(bad, false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := webhooks.ValidateURL("http://127.0.0.1:9000/h", true); err != nil {
		t.Errorf("private URL refused with allowPrivate: %v", err)
	}
	if webhooks.Allowed(netip.MustParseAddr("8.8.8.8")) != true {
		t.Error("a public address is refused")
	}
}
