package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// receiver is a merchant's webhook endpoint on 127.0.0.1 that records when each event
// arrived and when it was committed (the event's timestamp).
type receiver struct {
	url     string
	srv     *http.Server
	mu      sync.Mutex
	arrived []time.Time
	lat     []time.Duration
	seen    map[string]bool
}

func startReceiver() (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + l.Addr().String() + "/webhooks", seen: map[string]bool{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(l) //nolint:errcheck // closed by close()
	return r, nil
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(req.Body)
	var evt struct {
		ID        string    `json:"id"`
		Timestamp time.Time `json:"timestamp"`
	}
	_ = json.Unmarshal(body, &evt)
	r.mu.Lock()
	// At-least-once: count each event once per endpoint (endpoints differ by path).
	if key := req.URL.Path + " " + evt.ID; !r.seen[key] {
		r.seen[key] = true
		r.arrived = append(r.arrived, now)
		r.lat = append(r.lat, now.Sub(evt.Timestamp))
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.arrived)
}

func (r *receiver) waitFor(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for r.count() < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("webhooks: %d of %d delivered after %v", r.count(), n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func (r *receiver) span() (first, last time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first, last = r.arrived[0], r.arrived[0]
	for _, t := range r.arrived {
		first, last = minTime(first, t), maxTime(last, t)
	}
	return first, last
}

func (r *receiver) latencies() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.lat...)
}

func (r *receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.arrived, r.lat = nil, nil
}

func (r *receiver) close() { _ = r.srv.Close() }

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
