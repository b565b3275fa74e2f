package console_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/apitest"
)

// browser is a cookie-keeping client that does not follow redirects, so each answer is
// seen as sent.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var hidden = regexp.MustCompile(`name="(signin|_csrf)" value="([^"]*)"`)

// field is a hidden field's value in a page.
func field(page, name string) string {
	for _, m := range hidden.FindAllStringSubmatch(page, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	return ""
}

// signIn signs in with key and returns the answer to the sign-in post.
func (b *browser) signIn(key, next string) *http.Response {
	b.t.Helper()
	_, page := b.do(http.MethodGet, "/console/sign-in", nil, nil)
	resp, _ := b.do(http.MethodPost, "/console/sign-in", url.Values{"key": {key}, "signin": {field(page, "signin")}, "next": {next}}, nil)
	return resp
}

// csrf is the session's token, as its pages carry it.
func (b *browser) csrf() string {
	_, page := b.do(http.MethodGet, "/console/withdrawals", nil, nil)
	if t := field(page, "_csrf"); t != "" {
		return t
	}
	_, page = b.do(http.MethodGet, "/console/ops", nil, nil)
	return field(page, "_csrf")
}

// Who may open what: signed out, everything leads to the sign-in; a merchant key has the
// merchant's pages, an admin key the operator's, each sent home from the other's.
func TestConsoleAccess(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Acme")
	env.Credit(mid, "USDT", "100")
	id := env.Withdraw(key, "USDT", "10", apitest.ETHAddress)

	merchantPages := []string{"/console/balances", "/console/withdrawals", "/console/withdrawals.csv", "/console/withdrawals/new",
		"/console/withdrawals/quote?token=USDT&amount=5", "/console/withdrawals/" + id, "/console/webhooks", "/console/whitelist"}
	operatorPages := []string{"/console/ops", "/console/ops/review", "/console/ops/fees", "/console/ops/fees/preview?baseFee=1&markupRate=0",
		"/console/ops/audit", "/console/ops/approvals", "/console/ops/policies", "/console/ops/batches", "/console/ops/reconciliation",
		"/console/ops/merchants", "/console/ops/merchants/" + mid}
	served := map[string]bool{}
	for _, r := range env.App.Handler.(*echo.Echo).Routes() {
		if strings.HasPrefix(r.Path, "/console/") && r.Method == http.MethodGet && !strings.HasSuffix(r.Path, "/*") {
			served[r.Path] = true
		}
	}
	tested := map[string]bool{"/console/": true, "/console/sign-in": true}
	for _, p := range append(merchantPages, operatorPages...) {
		path, _, _ := strings.Cut(p, "?")
		tested[strings.NewReplacer(id, ":id", mid, ":id").Replace(path)] = true
	}
	for p := range served {
		if !tested[p] {
			t.Errorf("GET %s is served but not in this test", p)
		}
	}

	anonymous := newBrowser(t, env.URL)
	for _, p := range append(merchantPages, operatorPages...) {
		resp, _ := anonymous.do(http.MethodGet, p, nil, nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/sign-in?next=") {
			t.Errorf("signed out, GET %s: %d %s", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp, _ := anonymous.do(http.MethodPost, "/console/withdrawals", url.Values{"token": {"USDT"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("signed out, POST: %d", resp.StatusCode)
	}

	merchant := newBrowser(t, env.URL)
	if resp := merchant.signIn(key, "/console/withdrawals"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/withdrawals" {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	admin := newBrowser(t, env.URL)
	admin.signIn(env.AdminKey, "")
	for _, p := range merchantPages {
		if resp, _ := merchant.do(http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("merchant, GET %s: %d", p, resp.StatusCode)
		}
		if resp, _ := admin.do(http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
			t.Errorf("admin, GET %s: %d", p, resp.StatusCode)
		}
	}
	for _, p := range operatorPages {
		if resp, _ := admin.do(http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("admin, GET %s: %d", p, resp.StatusCode)
		}
		if resp, _ := merchant.do(http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("merchant, GET %s: %d", p, resp.StatusCode)
		}
	}
	// Another merchant's withdrawal is not found.
	_, otherKey := env.Merchant("Other")
	other := newBrowser(t, env.URL)
	other.signIn(otherKey, "")
	if resp, _ := other.do(http.MethodGet, "/console/withdrawals/"+id, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another merchant's withdrawal: %d", resp.StatusCode)
	}
	// Every page says what the browser may load: this origin only.
	resp, _ := merchant.do(http.MethodGet, "/console/balances", nil, nil)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") ||
		resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", resp.Header)
	}
}

// Sign-in: a wrong key, a form without its one-time value, and an open redirect are
// refused; the cookie is HttpOnly and SameSite=Strict, Secure behind TLS; signing out
// or revoking the key ends the session; so does its expiry.
func TestConsoleSessions(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	env := apitest.New(t, func(o *apitest.Options) { o.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now } })
	mid, key := env.Merchant("Acme")
	b := newBrowser(t, env.URL)
	if resp := b.signIn("wk_"+strings.Repeat("x", 40), ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown key: %d", resp.StatusCode)
	}
	if resp, _ := b.do(http.MethodPost, "/console/sign-in", url.Values{"key": {key}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without the form's one-time value: %d", resp.StatusCode)
	}
	resp := b.signIn(key, "//evil.example/console/")
	if resp.Header.Get("Location") != "/console/" {
		t.Errorf("open redirect: %s", resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "wd_console" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.Path != "/console" {
		t.Fatalf("session cookie %+v", session)
	}
	var stored string
	env.DB.Raw(`SELECT encode(token_hash, 'hex') FROM console_sessions`).Scan(&stored)
	if stored == "" || strings.Contains(stored, session.Value) {
		t.Error("the session's token must be stored hashed")
	}

	// Behind TLS the cookie is Secure.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/console/sign-in", nil)
	req.TLS = &tls.ConnectionState{}
	env.App.Handler.ServeHTTP(rec, req)
	if c := rec.Result().Cookies(); len(c) == 0 || !c[0].Secure {
		t.Errorf("cookies behind TLS: %v", c)
	}

	// A form from another origin is refused even with the right token.
	token := b.csrf()
	form := url.Values{"_csrf": {token}, "token": {"USDT"}, "amount": {"1"}, "address": {apitest.ETHAddress}}
	if resp, _ := b.do(http.MethodPost, "/console/withdrawals", form, map[string]string{"Origin": "http://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin post: %d", resp.StatusCode)
	}

	// Revoking the key ends its sessions at once.
	var keyID string
	env.DB.Raw(`SELECT id FROM api_keys WHERE merchant_id = ? AND revoked_at IS NULL`, mid).Scan(&keyID)
	env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/admin/api-keys/" + keyID, Key: env.AdminKey})
	if resp, _ := b.do(http.MethodGet, "/console/balances", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the key's revocation: %d", resp.StatusCode)
	}

	// Sign-out ends the session; expiry too.
	_, key2 := env.Merchant("Beta")
	b2 := newBrowser(t, env.URL)
	b2.signIn(key2, "")
	if resp, _ := b2.do(http.MethodPost, "/console/sign-out", url.Values{"_csrf": {b2.csrf()}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := b2.do(http.MethodGet, "/console/balances", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", resp.StatusCode)
	}
	b3 := newBrowser(t, env.URL)
	b3.signIn(key2, "")
	mu.Lock()
	now = now.Add(9 * time.Hour)
	mu.Unlock()
	if resp, _ := b3.do(http.MethodGet, "/console/balances", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the session's expiry: %d", resp.StatusCode)
	}
}

// Every form post needs the session's CSRF token, and a read-only key may post none
// (signing out aside), whatever the route.
func TestConsoleWritesNeedTokenAndScope(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Acme")
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/" + mid + "/api-keys", Key: env.AdminKey,
		Body: map[string]any{"name": "dashboard", "scope": "read"}})
	readKey := r.JSON()["key"].(string)
	readAdmin, err := env.Accounts.CreateAdminKey(t.Context(), "read ops", "read", "test")
	if err != nil {
		t.Fatal(err)
	}
	sessions := map[string]*browser{}
	for name, k := range map[string]string{"merchant": key, "admin": env.AdminKey, "read merchant": readKey, "read admin": readAdmin.Plaintext} {
		sessions[name] = newBrowser(t, env.URL)
		sessions[name].signIn(k, "")
	}
	posts := 0
	for _, route := range env.App.Handler.(*echo.Echo).Routes() {
		if route.Method != http.MethodPost || !strings.HasPrefix(route.Path, "/console/") || route.Path == "/console/sign-in" {
			continue
		}
		posts++
		path := strings.NewReplacer(":id", "x", ":key", "y").Replace(route.Path)
		owner, reader := "merchant", "read merchant"
		if strings.HasPrefix(path, "/console/ops/") {
			owner, reader = "admin", "read admin"
		}
		if resp, _ := sessions[owner].do(http.MethodPost, path, url.Values{"x": {"1"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without a token: %d", path, resp.StatusCode)
		}
		if route.Path == "/console/sign-out" {
			continue
		}
		b := sessions[reader]
		if resp, _ := b.do(http.MethodPost, path, url.Values{"_csrf": {b.csrf()}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s with a read-only key: %d", path, resp.StatusCode)
		}
	}
	if posts < 20 {
		t.Errorf("only %d console form posts found", posts)
	}
}
