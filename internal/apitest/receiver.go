package apitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Received is one webhook request as the receiver saw it.
type Received struct {
	Header http.Header
	Body   []byte
}

// Event decodes the body's top level.
func (r Received) Event() (id, event string, data map[string]any) {
	var body struct {
		ID    string         `json:"id"`
		Event string         `json:"event"`
		Data  map[string]any `json:"data"`
	}
	_ = json.Unmarshal(r.Body, &body)
	return body.ID, body.Event, body.Data
}

// Receiver is a merchant's webhook endpoint on 127.0.0.1.
type Receiver struct {
	URL string
	mu  sync.Mutex
	got []Received
	// Respond picks the status of the n-th request (0-based); nil answers 200.
	respond func(n int, r *http.Request) int
}

// NewReceiver starts a receiver; respond may be nil. Every body it receives is checked
// against the contract's webhooks.
func NewReceiver(t testing.TB, respond func(n int, r *http.Request) int) *Receiver {
	rc := &Receiver{respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := CheckWebhook(r.Header, body); err != nil {
			t.Error(err)
		}
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, Received{Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		status := http.StatusOK
		if rc.respond != nil {
			status = rc.respond(n, r)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/webhooks"
	return rc
}

// FailFirst answers 500 to the first n requests, then 200.
func FailFirst(n int) func(int, *http.Request) int {
	return func(i int, _ *http.Request) int {
		if i < n {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
}

// Requests returns a copy of what was received so far.
func (rc *Receiver) Requests() []Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Received(nil), rc.got...)
}
