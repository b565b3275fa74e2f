package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paycore/withdrawals/handlers"
	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/metrics"
)

// A handler that panics answers INTERNAL_ERROR in the contract's body, logs the panic
// with its stack, and the server goes on serving; net/http alone would drop the
// connection without an answer.
func TestPanicInAHandlerIsAnsweredAsInternalError(t *testing.T) {
	var log syncBuffer
	logger := slog.New(slog.NewJSONHandler(&log, nil))
	var panics atomic.Bool
	panics.Store(true)
	e := handlers.New(handlers.Deps{
		Logger:  logger,
		Metrics: metrics.New(nil, metrics.Build{}, logger),
		Ready: func(context.Context) error {
			if panics.Load() {
				panic("readiness check bug")
			}
			return nil
		},
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	get := func() apitest.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		r := apitest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
		if err := apitest.CheckContract(apitest.Request{Method: http.MethodGet, Path: "/readyz"}, r); err != nil {
			t.Errorf("GET /readyz -> %d violates openapi.yaml: %v\nbody: %s", r.Status, err, body)
		}
		return r
	}

	r := get()
	if r.Status != http.StatusInternalServerError || r.ErrorCode() != "INTERNAL_ERROR" {
		t.Fatalf("panicking handler: %d %s, want 500 INTERNAL_ERROR", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "readiness check bug") {
		t.Errorf("the panic's value reached the client: %s", r.Body)
	}
	logged := log.String()
	for _, want := range []string{`"msg":"request failed"`, `panic: readiness check bug`, `"stack":"goroutine`, `"status":500`} {
		if !strings.Contains(logged, want) {
			t.Errorf("log lacks %s:\n%s", want, logged)
		}
	}

	panics.Store(false)
	if r := get(); r.Status != http.StatusOK {
		t.Fatalf("after the panic: %d %s, want 200", r.Status, r.Body)
	}
}

// http.ErrAbortHandler is net/http's deliberate abort: it is not turned into an answer.
func TestAbortHandlerPanicIsLetThrough(t *testing.T) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	e := handlers.New(handlers.Deps{Logger: logger, Metrics: metrics.New(nil, metrics.Build{}, logger),
		Ready: func(context.Context) error { panic(http.ErrAbortHandler) }})
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler to go on", v)
		}
	}()
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
	t.Fatal("ServeHTTP returned: the abort was swallowed")
}
