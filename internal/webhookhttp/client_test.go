package webhookhttp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/webhookhttp"
)

func TestDialRefusesEveryForbiddenAddressClass(t *testing.T) {
	t.Parallel()
	// A live receiver on loopback proves the refusal is the dial check, not a closed port.
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	// The same on IPv6 loopback, for the zoned spelling of ::1.
	srv6 := httptest.NewUnstartedServer(srv.Config.Handler)
	l6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("IPv6 loopback: %v", err)
	}
	srv6.Listener = l6
	srv6.Start()
	defer srv6.Close()
	port6 := srv6.URL[strings.LastIndex(srv6.URL, ":")+1:]

	client := webhookhttp.NewClient(2*time.Second, false)
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
		"zoned IPv6 loopback":        "http://[::1%25lo]:" + port6 + "/hook",
		"NAT64 of loopback":          "http://[64:ff9b::7f00:1]:" + port + "/hook",
		"6to4 of loopback":           "http://[2002:7f00:1::1]:" + port + "/hook",
		"IPv4-compatible loopback":   "http://[::7f00:1]:" + port + "/hook",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		res := webhookhttp.Post(ctx, client, target, nil, []byte(`{}`))
		cancel()
		if !errors.Is(res.Err, webhookhttp.ErrForbiddenAddress) {
			t.Errorf("%s (%s): got status %d, err %v; want ErrForbiddenAddress", name, target, res.StatusCode, res.Err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback receiver was reached %d times", n)
	}

	// With private URLs allowed (local development) the same receiver is reached.
	res := webhookhttp.Post(context.Background(), webhookhttp.NewClient(2*time.Second, true), srv.URL, nil, []byte(`{}`))
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
	res := webhookhttp.Post(context.Background(), webhookhttp.NewClient(2*time.Second, true), redirect.URL, nil, []byte(`{}`))
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
	res := webhookhttp.Post(context.Background(), webhookhttp.NewClient(2*time.Second, true), srv.URL, nil, []byte(`{}`))
	if res.StatusCode != http.StatusTooManyRequests || res.RetryAfter != 2*time.Minute {
		t.Errorf("%+v", res)
	}
}

func TestValidateURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"https://merchant.example/hooks", "http://merchant.example:8443/h?x=1"} {
		if err := webhookhttp.ValidateURL(ok, false); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"ftp://merchant.example", "merchant.example/hook", "https://user:pw@merchant.example", "https://127.0.0.1/h", "http://[::1]/h", "http://169.254.169.254/", "javascript:alert(1)", "",
		"http://[::1%25lo]:8080/h", "http://[fe80::1%25eth0]/h", "http://[2606:4700::1%25eth0]/h"} {
		if err := webhookhttp.ValidateURL(bad, false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := webhookhttp.ValidateURL("http://127.0.0.1:9000/h", true); err != nil {
		t.Errorf("private URL refused with allowPrivate: %v", err)
	}
	if webhookhttp.Allowed(netip.MustParseAddr("8.8.8.8")) != true {
		t.Error("a public address is refused")
	}
}

// Only globally routable unicast destinations are allowed: every special-purpose range
// of IANA's registries that is not globally reachable, and every prefix that translates
// or tunnels to IPv4 (and so can hide 127.0.0.1 or 10.0.0.1), is refused.
func TestAllowedOnlyGloballyRoutableUnicast(t *testing.T) {
	t.Parallel()
	for _, refused := range []string{
		"0.0.0.0", "10.1.2.3", "100.64.0.1", "127.0.0.1", "169.254.169.254", "172.31.255.255", "192.0.0.8", "192.0.2.1",
		"192.88.99.1", "192.168.0.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.251", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::7f00:1", "::a00:1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
		"64:ff9b:1::a00:1", "100::1", "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::1", "2002:7f00:1::1",
		"2002:a00:1::1", "3fff::1", "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1", "::1%lo", "2606:4700::1%eth0",
	} {
		if webhookhttp.Allowed(netip.MustParseAddr(refused)) {
			t.Errorf("%s is allowed", refused)
		}
	}
	for _, allowed := range []string{"8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1"} {
		if !webhookhttp.Allowed(netip.MustParseAddr(allowed)) {
			t.Errorf("%s is refused", allowed)
		}
	}
}
