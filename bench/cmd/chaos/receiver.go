package main

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"
)

// receiverMode is how the merchants' webhook receiver behaves.
type receiverMode int

const (
	receiverUp   receiverMode = iota
	receiverSlow              // answers 200 only after the service's attempt timeout
	receiver5xx               // answers 503
	receiverGone              // answers 410 Gone: the service disables the endpoint
)

// receiver is the merchants' webhook endpoint; it can be taken down (connections
// refused), slowed, made to fail, and brought back. It counts every event that reached
// it with a 2xx answer.
type receiver struct {
	url  string
	addr string
	mu   sync.Mutex
	srv  *http.Server
	mode receiverMode
	got  map[string]int // event id -> deliveries answered 2xx
}

func startReceiver() (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{addr: l.Addr().String(), got: map[string]int{}}
	r.url = "http://" + r.addr + "/webhooks"
	r.serve(l)
	return r, nil
}

func (r *receiver) serve(l net.Listener) {
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var evt struct{ ID string }
		_ = json.NewDecoder(req.Body).Decode(&evt)
		r.mu.Lock()
		mode := r.mode
		r.mu.Unlock()
		switch mode {
		case receiverSlow:
			time.Sleep(webhookTimeout + time.Second)
		case receiver5xx:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case receiverGone:
			w.WriteHeader(http.StatusGone)
			return
		}
		if mode == receiverUp {
			r.mu.Lock()
			r.got[evt.ID]++
			r.mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	})}
	go r.srv.Serve(l) //nolint:errcheck // closed by setDown or close
}

func (r *receiver) setMode(m receiverMode) {
	r.mu.Lock()
	r.mode = m
	r.mu.Unlock()
}

func (r *receiver) setDown(down bool) {
	if down {
		_ = r.srv.Close()
		return
	}
	for range 50 { // the port is ours again once the old listener is gone
		if l, err := net.Listen("tcp", r.addr); err == nil {
			r.serve(l)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *receiver) received() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.got))
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

func (r *receiver) close() { _ = r.srv.Close() }
