package webhookhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned when a webhook URL resolves to an address that must
// not be reached from here (SSRF protection).
var ErrForbiddenAddress = errors.New("webhooks: destination address is not allowed")

// A webhook may reach only globally routable unicast addresses. IPv6 is allowed from
// the global unicast block 2000::/3 alone, so every translation and tunnelling prefix
// that can hide a private IPv4 address (NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
// IPv4-compatible ::/96, discard 100::/64, site-local fec0::/10) is refused because it
// lies outside it; inside it, the special-purpose blocks of IANA's registry are refused
// too (Teredo and the other IETF assignments, 6to4, documentation). IPv4 addresses are
// refused in every special-purpose block: private networks, loopback, link-local
// (including 169.254.169.254, the cloud metadata service), shared and reserved space,
// documentation, benchmarking, multicast, broadcast.
var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	notGlobal6     = []netip.Prefix{
		netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments, Teredo 2001::/32 among them
		netip.MustParsePrefix("2001:db8::/32"), // documentation
		netip.MustParsePrefix("2002::/16"),     // 6to4: embeds any IPv4 address
		netip.MustParsePrefix("3fff::/20"),     // documentation
	}
	notGlobal4 = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.0.0.0/24"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("192.88.99.0/24"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("224.0.0.0/4"),
		netip.MustParsePrefix("240.0.0.0/4"), // reserved, and 255.255.255.255
	}
)

// Allowed reports whether ip is a globally routable unicast address a webhook may be
// sent to. An address with a zone (fe80::1%eth0, ::1%lo) is never allowed: a zone
// scopes an address to one link or host, which is what a public destination is not,
// and prefix checks do not match zoned addresses.
func Allowed(ip netip.Addr) bool {
	if !ip.IsValid() || ip.Zone() != "" {
		return false
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return !inAny(ip, notGlobal4)
	}
	return globalUnicast6.Contains(ip) && !inAny(ip, notGlobal6)
}

func inAny(ip netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ValidateURL checks a webhook URL as registered: absolute http(s), a host, no
// credentials. Literal IP hosts are checked at once; names are checked when dialled.
func ValidateURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return errors.New("url must be an absolute http or https URL")
	}
	if u.User != nil {
		return errors.New("url must not contain credentials")
	}
	if len(raw) > 2048 {
		return errors.New("url must be at most 2048 characters")
	}
	if strings.Contains(u.Hostname(), "%") {
		return errors.New("url must not carry an IPv6 zone")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate && !Allowed(ip) {
		return errors.New("url points to an address that is not publicly routable (private, loopback, link-local or special-purpose)")
	}
	return nil
}

// NewClient returns the HTTP client deliveries use. The dialer checks the address it
// is about to connect to, after DNS resolution, so a name that resolves (or rebinds) to
// 127.0.0.1 is refused as surely as the literal. Redirects are not followed and no
// proxy from the environment is used.
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			if allowPrivate {
				return nil
			}
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			if !Allowed(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
			}
			return nil
		},
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		// A busy merchant's endpoint gets many deliveries at once; keeping their
		// connections (up to the worker count) spares a TCP and TLS handshake each.
		MaxIdleConnsPerHost: 32,
		MaxIdleConns:        256,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Result is what one delivery attempt saw.
type Result struct {
	StatusCode int           // 0 when no response arrived
	Latency    time.Duration // until the response headers, or the failure
	RetryAfter time.Duration // from a 429's Retry-After, when given
	Err        error         // transport failure (timeout, refused address, ...)
}

// Post sends one signed webhook request and reads (and discards) a bounded response.
func Post(ctx context.Context, client *http.Client, target string, headers map[string]string, body []byte) Result {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Result{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "withdrawals-webhooks/1")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	res := Result{Latency: time.Since(start), Err: err}
	if err != nil {
		return res
	}
	defer resp.Body.Close()
	// Read a bounded amount so the connection can be reused; a receiver cannot make us
	// read an endless body.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res.StatusCode = resp.StatusCode
	if resp.StatusCode == http.StatusTooManyRequests {
		res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return res
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var secs int
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ErrorClass names what went wrong with an attempt in words that are safe to show the
// merchant: the transport error itself can carry resolved addresses of our network
// (a refused 10.0.0.7, the host a name resolved to), which a merchant must not learn.
// The full error is for the service's log only.
func ErrorClass(err error) string {
	var (
		dnsErr  *net.DNSError
		opErr   *net.OpError
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrForbiddenAddress):
		return "blocked_destination"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return "timeout"
	case errors.As(err, &dnsErr):
		return "dns_failure"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection_reset"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	case errors.As(err, &certErr), errors.As(err, &recErr):
		return "tls_error"
	case errors.As(err, &opErr):
		return "connection_failed"
	default:
		return "request_failed"
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
