// Package apitest runs the real HTTP stack (Echo router, services, a fresh PostgreSQL
// database) behind an httptest server on 127.0.0.1, and checks every response it sees
// against openapi.yaml, so tests and contract cannot drift apart.
package apitest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals"
	"github.com/paycore/withdrawals/internal/app"
	"github.com/paycore/withdrawals/internal/logging"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/address"
	"github.com/paycore/withdrawals/services/payouts"
	"github.com/paycore/withdrawals/services/webhooks"
)

// BatchInterval is the payout interval the test server quotes in estimatedCompletion.
const BatchInterval = time.Minute

// Options change the service a test runs.
type Options struct {
	BatchInterval time.Duration
	BatchMax      int
	MaxAttempts   int
	PollInterval  time.Duration
	// Provider replaces the sandbox; Sandbox configures it otherwise. TokenRails, given
	// the test's database, returns the rails that pay the tokens they name instead.
	Provider   rails.Provider
	TokenRails func(db *gorm.DB) map[string]rails.Provider
	// LitecoinNetwork is LITECOIN_NETWORK (mainnet when empty).
	LitecoinNetwork   string
	Sandbox           rails.SandboxConfig
	Webhooks          webhooks.Config
	WhitelistCooldown time.Duration
	ApprovalTTL       time.Duration // 72h when zero
	// RateLimit, RateLimitWithdrawals and AuthFailures are per minute; tests default
	// to 100,000.
	RateLimit, RateLimitWithdrawals, AuthFailures int
	// LogTo receives the service's JSON log at debug level instead of the test log.
	LogTo io.Writer
	// Clock replaces the wall clock for the whole service.
	Clock services.Clock
	// StartJobs runs the River workers (periodic batching, submission, polling).
	StartJobs bool
}

// Env is one running service with its own database.
type Env struct {
	T   testing.TB
	URL string
	// MetricsURL serves the metrics listener's handler (METRICS_ADDR in the binary).
	MetricsURL string
	DB         *gorm.DB
	App        *app.App
	Accounts   *accounts.Service
	dbURL      string
	AdminKey   string
	client     *http.Client
}

// New starts the service for t on a fresh database, with an admin key ready.
func New(t testing.TB, opts ...func(*Options)) *Env {
	t.Helper()
	db, dbURL := testdb.New(t)
	return newOn(t, db, dbURL, opts...)
}

func newOn(t testing.TB, db *gorm.DB, dbURL string, opts ...func(*Options)) *Env {
	t.Helper()
	o := Options{BatchInterval: BatchInterval, BatchMax: 500, MaxAttempts: 5, PollInterval: 200 * time.Millisecond,
		RateLimit: 100_000, RateLimitWithdrawals: 100_000, AuthFailures: 100_000,
		// Receivers in tests listen on 127.0.0.1, so private URLs are allowed here.
		Webhooks: webhooks.Config{AllowPrivateURLs: true, Timeout: 2 * time.Second, DisableAfter: 72 * time.Hour,
			RotationOverlap: 24 * time.Hour, RetryBase: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond}}
	for _, opt := range opts {
		opt(&o)
	}
	// Errors the service logs (a 500's cause) show up in the test's output.
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	if o.LogTo != nil {
		logger = logging.New(o.LogTo, "debug")
	}
	var tokenRails map[string]rails.Provider
	if o.TokenRails != nil {
		tokenRails = o.TokenRails(db)
	}
	a, err := app.New(db, app.Config{
		DatabaseURL:   dbURL,
		Networks:      address.Networks{Litecoin: o.LitecoinNetwork},
		BatchInterval: o.BatchInterval,
		Payout: payouts.Config{BatchMax: o.BatchMax, PollInterval: o.PollInterval,
			ProviderTimeout: 2 * time.Second, MaxAttempts: o.MaxAttempts},
		RetryBase:         10 * time.Millisecond,
		RetryMax:          100 * time.Millisecond,
		Workers:           4,
		Provider:          o.Provider,
		TokenRails:        tokenRails,
		Sandbox:           o.Sandbox,
		Webhooks:          o.Webhooks,
		Clock:             o.Clock,
		WhitelistCooldown: o.WhitelistCooldown,
		ApprovalTTL:       cmp.Or(o.ApprovalTTL, 72*time.Hour),
		AuthCacheTTL:      time.Minute, // revocation must still be immediate: TestRevokedKeyIsRefusedAtOnce
		// A change made through this instance must still be seen at once: every test that
		// reads a balance after changing it checks the cache's invalidation.
		BalanceCacheTTL:               time.Minute,
		RateLimitPerMinute:            o.RateLimit,
		RateLimitWithdrawalsPerMinute: o.RateLimitWithdrawals,
		AuthFailuresPerMinute:         o.AuthFailures,
		WebhookWorkers:                4,
		WebhookMaxAttempts:            6,
		Logger:                        logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close) // after the servers and the jobs, registered later, have stopped
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	metricsSrv := httptest.NewServer(a.Metrics)
	t.Cleanup(metricsSrv.Close)
	admin, err := a.Accounts.CreateAdminKey(context.Background(), "test admin", models.ScopeReadWrite, "test")
	if err != nil {
		t.Fatal(err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 128
	env := &Env{T: t, URL: srv.URL, MetricsURL: metricsSrv.URL, DB: db, dbURL: dbURL, App: a, Accounts: a.Accounts, AdminKey: admin.Plaintext,
		client: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
	if o.StartJobs {
		env.StartJobs()
	}
	return env
}

// Remote is an Env for a service running elsewhere (the real binary, in tests that
// kill it): requests and contract checks as with New, without the in-process App.
func Remote(t testing.TB, url, adminKey string) *Env {
	return &Env{T: t, URL: url, AdminKey: adminKey, client: &http.Client{Timeout: 30 * time.Second}}
}

// StartJobs runs the River workers until the test ends. The periodic batch job runs
// at once, then every BatchInterval.
func (e *Env) StartJobs() {
	e.T.Helper()
	if err := e.App.Jobs.Start(context.Background()); err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.App.Jobs.Stop(ctx)
	})
}

// Response is a received and contract-checked response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r Response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Decode decodes the body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrorCode is the contract error code of an error response.
func (r Response) ErrorCode() string {
	code, _ := r.JSON()["error"].(string)
	return code
}

// Request describes one call. Body may be a string or []byte (sent as is) or any value
// (sent as JSON); ContentType defaults to application/json when there is a body.
type Request struct {
	Method, Path, Key string
	Body              any
	ContentType       string
	Header            map[string]string
}

// Do sends the request and checks the response against openapi.yaml: status code,
// headers and body must be what the contract says for that operation. A route outside
// the contract must still answer with the contract's Error body.
func (e *Env) Do(r Request) Response {
	e.T.Helper()
	resp, err := e.send(r)
	if err != nil {
		e.T.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	if err := CheckContract(r, resp); err != nil {
		e.T.Errorf("%s %s -> %d violates openapi.yaml: %v\nbody: %s", r.Method, r.Path, resp.Status, err, resp.Body)
	}
	return resp
}

// Send is Do without failing the test on transport errors: for goroutines.
func (e *Env) Send(r Request) (Response, error) {
	resp, err := e.send(r)
	if err != nil {
		return resp, err
	}
	if err := CheckContract(r, resp); err != nil {
		return resp, fmt.Errorf("%s %s -> %d violates openapi.yaml: %w (body %s)", r.Method, r.Path, resp.Status, err, resp.Body)
	}
	return resp, nil
}

func (e *Env) send(r Request) (Response, error) {
	var body io.Reader
	contentType := r.ContentType
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		body = bytes.NewReader(raw)
	}
	if body != nil && contentType == "" {
		contentType = "application/json"
	}
	req, err := http.NewRequest(r.Method, e.URL+r.Path, body)
	if err != nil {
		return Response{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if r.Key != "" {
		req.Header.Set("Authorization", "Bearer "+r.Key)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, err
}

var (
	specOnce   sync.Once
	spec       *openapi3.T
	specRouter routers.Router
	specErr    error
)

func loadSpec() (*openapi3.T, routers.Router, error) {
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		spec, specErr = loader.LoadFromData(withdrawals.OpenAPI)
		if specErr != nil {
			return
		}
		if specErr = spec.Validate(loader.Context); specErr != nil {
			return
		}
		spec.Servers = nil // match test servers on any host
		// The reference's page and script (/docs) are text, as text/plain is.
		for _, media := range []string{"text/html", "text/javascript"} {
			openapi3filter.RegisterBodyDecoder(media, textBody)
		}
		specRouter, specErr = gorillamux.NewRouter(spec)
	})
	return spec, specRouter, specErr
}

func textBody(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	return string(b), err
}

// CheckContract validates one response against openapi.yaml.
func CheckContract(r Request, resp Response) error {
	doc, router, err := loadSpec()
	if err != nil {
		return fmt.Errorf("openapi.yaml does not load: %w", err)
	}
	req, _ := http.NewRequest(r.Method, "http://127.0.0.1"+r.Path, nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		// Not an operation of the contract: the answer must still be a contract error.
		if resp.Status < 400 {
			return fmt.Errorf("undocumented route answered %d", resp.Status)
		}
		var v any
		if err := json.Unmarshal(resp.Body, &v); err != nil {
			return fmt.Errorf("error body is not JSON: %w", err)
		}
		return doc.Components.Schemas["Error"].Value.VisitJSON(v)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  resp.Status,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	input.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return err
	}
	return checkHeadersDeclared(route.Operation, resp)
}

// documentedHeaders are the headers of the service's own that a response must declare
// when it carries them, so the contract says where each can be expected.
var documentedHeaders = []string{"X-Request-ID", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "Idempotent-Replayed"}

func checkHeadersDeclared(op *openapi3.Operation, resp Response) error {
	declared := op.Responses.Status(resp.Status)
	if declared == nil {
		declared = op.Responses.Default()
	}
	if declared == nil || declared.Value == nil {
		return fmt.Errorf("status %d is not declared", resp.Status)
	}
	for _, h := range documentedHeaders {
		if resp.Header.Get(h) != "" && declared.Value.Headers[h] == nil {
			return fmt.Errorf("response %d carries %s, which the contract does not declare for it", resp.Status, h)
		}
	}
	return nil
}

// CheckWebhook validates one webhook request against the contract's webhooks section:
// its event is declared there, its body matches the event's schema, and it carries the
// headers the event's operation requires (the signature's).
func CheckWebhook(header http.Header, body []byte) error {
	doc, _, err := loadSpec()
	if err != nil {
		return fmt.Errorf("openapi.yaml does not load: %w", err)
	}
	var v struct {
		Event string `json:"event"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("webhook body is not JSON: %w", err)
	}
	item := doc.Webhooks[v.Event]
	if item == nil || item.Post == nil {
		return fmt.Errorf("webhook event %q is not in the contract's webhooks", v.Event)
	}
	var payload any
	if err := json.Unmarshal(body, &payload); err != nil {
		return err
	}
	schema := item.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	if err := schema.VisitJSON(payload, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("webhook %s does not match the contract: %w", v.Event, err)
	}
	for _, p := range item.Post.Parameters {
		if p.Value.In == openapi3.ParameterInHeader && p.Value.Required && header.Get(p.Value.Name) == "" {
			return fmt.Errorf("webhook %s has no %s header", v.Event, p.Value.Name)
		}
	}
	return nil
}

// SendConcurrently sends n copies of the request from n goroutines released at the
// same instant, and returns every answer. Transport errors and contract violations
// fail the test.
func (e *Env) SendConcurrently(n int, r Request) []Response {
	e.T.Helper()
	out := make([]Response, n)
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			out[i], errs[i] = e.Send(r)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	for _, err := range errs {
		if err != nil {
			e.T.Error(err)
		}
	}
	return out
}

// Restart returns a second instance of the service on the same database, as after a
// crash and restart or as another replica; its jobs are not started.
func Restart(e *Env, opts ...func(*Options)) *Env {
	e.T.Helper()
	return newOn(e.T, e.DB, e.dbURL, opts...)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Operation is one method and path of openapi.yaml.
type Operation struct{ Method, Path string }

// Operations lists every operation of the contract, so tests can walk all routes and
// a route added later is covered without editing them.
func Operations(t testing.TB) []Operation {
	doc, _, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	var ops []Operation
	for _, path := range doc.Paths.InMatchingOrder() {
		for method := range doc.Paths.Value(path).Operations() {
			ops = append(ops, Operation{Method: method, Path: path})
		}
	}
	return ops
}
