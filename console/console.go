// Package console is the service's web console for operators and merchants, served at
// /console/ by the same binary: HTML rendered on the server from embedded templates,
// one embedded stylesheet and script, plots drawn as SVG on the server, and nothing
// fetched from any other host (a strict Content-Security-Policy says so to the
// browser). Signing in with an API key makes a server-side session (accounts.Session);
// the browser keeps only its random token, in an HttpOnly, SameSite=Strict cookie.
// Every action calls the same services as the API, so the same rules, errors and audit
// records apply.
package console

import (
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/handlers"
	"github.com/paycore/withdrawals/internal/ratelimit"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/audit"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/ops"
	"github.com/paycore/withdrawals/services/payouts"
	"github.com/paycore/withdrawals/services/policies"
	"github.com/paycore/withdrawals/services/pricing"
	"github.com/paycore/withdrawals/services/webhooks"
	"github.com/paycore/withdrawals/services/withdrawals"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Deps is what the console uses: the API's own services.
type Deps struct {
	Accounts    *accounts.Service
	Withdrawals *withdrawals.Service
	Ledger      *ledger.Ledger
	Pricing     *pricing.Service
	Payouts     *payouts.Service
	Webhooks    *webhooks.Service
	AuditLog    *audit.Log
	Policies    *policies.Service
	Whitelist   *withdrawals.Whitelist
	Ops         *ops.Stats
	// AuthFailures limits failed sign-ins per client address (the API's limiter).
	AuthFailures *ratelimit.Limiter
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	Clock      services.Clock
	Logger     *slog.Logger
}

type console struct {
	Deps
	pages map[string]*template.Template
}

// Cookie names. The session cookie holds the session's token; the sign-in cookie a
// one-time value the sign-in form must echo (a forged cross-site sign-in has neither).
const (
	sessionCookie = "wd_console"
	signInCookie  = "wd_console_signin"
	csrfField     = "_csrf"
	flashCookie   = "wd_console_flash"
)

// contentSecurityPolicy allows the console's own origin and nothing else: no inline
// script or style, no other host, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Mount adds the console's routes to e, under /console.
func Mount(e *echo.Echo, d Deps) {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	c := &console{Deps: d, pages: parsePages()}
	e.GET("/console", func(ec echo.Context) error { return ec.Redirect(http.StatusSeeOther, "/console/") })
	g := e.Group("/console", securityHeaders)
	static, _ := fs.Sub(staticFiles, "static")
	g.GET("/static/*", echo.WrapHandler(http.StripPrefix("/console/static/", http.FileServer(http.FS(static)))))
	g.GET("/sign-in", c.signInPage)
	g.POST("/sign-in", c.signIn)

	s := g.Group("", c.session, checkCSRF, refuseReadOnly)
	s.GET("/", c.home)
	s.POST("/sign-out", c.signOut)

	m := s.Group("", requireRole(models.RoleMerchant))
	m.GET("/balances", c.balances)
	m.GET("/withdrawals", c.listWithdrawals)
	m.GET("/withdrawals.csv", c.exportWithdrawals)
	m.GET("/withdrawals/new", c.newWithdrawal)
	m.GET("/withdrawals/quote", c.quoteFragment)
	m.POST("/withdrawals", c.createWithdrawal)
	m.GET("/withdrawals/:id", c.withdrawalDetail)
	m.POST("/withdrawals/:id/cancel", c.cancelWithdrawal)
	m.GET("/webhooks", c.webhooksPage)
	m.POST("/webhooks", c.createEndpoint)
	m.POST("/webhooks/:id/rotate", c.rotateSecret)
	m.POST("/webhooks/:id/test", c.testEndpoint)
	m.POST("/webhooks/:id/delete", c.deleteEndpoint)
	m.POST("/deliveries/:id/retry", c.redeliver)
	m.GET("/whitelist", c.whitelist)
	m.POST("/whitelist", c.addWhitelistEntry)
	m.POST("/whitelist/settings", c.setWhitelist)
	m.POST("/whitelist/:id/remove", c.removeWhitelistEntry)

	a := s.Group("/ops", requireRole(models.RoleAdmin))
	a.GET("", c.overview)
	a.GET("/review", c.reviewQueue)
	a.POST("/batches/:id/resolve", c.resolveBatch)
	a.GET("/fees", c.fees)
	a.GET("/fees/preview", c.feePreviewFragment)
	a.POST("/fees", c.setFees)
	a.GET("/audit", c.auditTrail)
	a.GET("/merchants", c.merchants)
	a.POST("/merchants", c.createMerchant)
	a.GET("/merchants/:id", c.merchantPage)
	a.POST("/merchants/:id/keys", c.issueKey)
	a.POST("/merchants/:id/keys/:key/revoke", c.revokeKey)
	a.POST("/merchants/:id/credits", c.credit)
	a.POST("/merchants/:id/freeze", c.freeze)
	a.GET("/approvals", c.approvals)
	a.POST("/approvals/:id", c.decide)
	a.GET("/policies", c.policies)
	a.POST("/policies/limits", c.setLimits)
	a.POST("/policies/approval-rules", c.setApprovalRule)
	a.GET("/batches", c.batches)
	a.GET("/reconciliation", c.reconciliation)
}

// securityHeaders marks every console response: the CSP, no framing, no referrer, no
// caching of pages that show balances.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin") // "no-referrer" would make form posts say Origin: null
		if !strings.HasPrefix(c.Request().URL.Path, "/console/static/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

const sessionKey = "console.session"

func sessionOf(c echo.Context) accounts.Session {
	s, _ := c.Get(sessionKey).(accounts.Session)
	return s
}

// session loads the signed-in session, or sends the browser to sign in.
func (cs *console) session(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		cookie, err := c.Cookie(sessionCookie)
		if err == nil {
			var sess accounts.Session
			if sess, err = cs.Accounts.SessionOf(c.Request().Context(), cookie.Value); err == nil {
				c.Set(sessionKey, sess)
				return next(c)
			}
		}
		if !errors.Is(err, http.ErrNoCookie) && !errors.Is(err, services.ErrUnauthorized) {
			return err
		}
		if c.Request().Method != http.MethodGet {
			return c.String(http.StatusForbidden, "Your session has ended: sign in again.")
		}
		return c.Redirect(http.StatusSeeOther, "/console/sign-in?next="+url.QueryEscape(c.Request().URL.RequestURI()))
	}
}

// checkCSRF refuses every state-changing request whose form does not carry the
// session's token (and, when the browser names it, whose Origin is another site's).
func checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodGet || c.Request().Method == http.MethodHead {
			return next(c)
		}
		token := c.FormValue(csrfField)
		want := sessionOf(c).CSRFToken
		if !sameOrigin(c) || token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
			return c.String(http.StatusForbidden, "This form has expired or did not come from the console: reload the page and try again.")
		}
		return next(c)
	}
}

// sameOrigin is false when the browser says the request came from another origin.
func sameOrigin(c echo.Context) bool {
	origin := c.Request().Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == c.Request().Host
}

// refuseReadOnly lets a read-only key look at everything and change nothing: every
// request but a GET (and signing out) is refused, whatever the page showed.
func refuseReadOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		m := c.Request().Method
		if m != http.MethodGet && m != http.MethodHead && c.Path() != "/console/sign-out" && sessionOf(c).Scope != models.ScopeReadWrite {
			return c.String(http.StatusForbidden, "This API key is read-only: it can look, not change.")
		}
		return next(c)
	}
}

func requireRole(role models.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if sessionOf(c).Role != role {
				return c.Redirect(http.StatusSeeOther, "/console/")
			}
			return next(c)
		}
	}
}

// view is what every page template gets.
type view struct {
	Title    string
	Session  accounts.Session
	CanWrite bool
	Nav      string // the current section, for aria-current
	Flash    string
	Error    string
	Data     any
}

// render writes a page: its template inside the layout.
func (cs *console) render(c echo.Context, status int, page string, v view) error {
	v.Session = sessionOf(c)
	v.CanWrite = v.Session.Scope == models.ScopeReadWrite
	if cookie, err := c.Cookie(flashCookie); err == nil {
		if kind, message, ok := strings.Cut(cookie.Value, "|"); ok {
			message, _ = url.QueryUnescape(message)
			if kind == "error" && v.Error == "" {
				v.Error = message
			} else if v.Flash == "" {
				v.Flash = message
			}
		}
		c.SetCookie(&http.Cookie{Name: flashCookie, Path: "/console", MaxAge: -1})
	}
	var b strings.Builder
	if err := cs.pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		return err
	}
	return c.HTML(status, b.String())
}

// redirectWith sends the browser to a page that will say what happened: ok, or the
// API's description of err when the service refused. The message travels in a
// short-lived cookie, never in the URL, so no link can make the console say anything.
func redirectWith(c echo.Context, to, ok string, err error) error {
	value := "ok|" + url.QueryEscape(ok)
	if err != nil {
		p := describe(err)
		if p.Status >= 500 {
			return err
		}
		value = "error|" + url.QueryEscape(p.Message)
	}
	c.SetCookie(&http.Cookie{Name: flashCookie, Value: value, Path: "/console", MaxAge: 60, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.Request().TLS != nil})
	return c.Redirect(http.StatusSeeOther, to)
}

// fragment writes a template without the layout (the live previews).
func (cs *console) fragment(c echo.Context, page, name string, data any) error {
	var b strings.Builder
	if err := cs.pages[page].ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	return c.HTML(http.StatusOK, b.String())
}

// describe is the API's own description of a service error.
func describe(err error) handlers.Problem { return handlers.Describe(err) }

// problemStatus is the status a page that shows err answers with.
func problemStatus(err error) int { return describe(err).Status }

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"amount": models.FormatAmount,
		"time":   stamp,
		"deref":  str,
		"csrf": func(s accounts.Session) template.HTML {
			return template.HTML(`<input type="hidden" name="` + csrfField + `" value="` + template.HTMLEscapeString(s.CSRFToken) + `">`)
		},
	}
	layout := template.Must(template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	entries, _ := fs.Glob(templateFiles, "templates/*.html")
	pages := map[string]*template.Template{}
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFiles, e))
	}
	return pages
}
