package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

type merchant struct{ id, key string }

// load creates withdrawals with idempotency keys from many merchants, the way a careful
// integrator does: on a transport error, a 5xx or a key still in use it retries the
// same request with the same key; now and then it replays an acknowledged request.
type load struct {
	h         *harness
	merchants []merchant
	seq       atomic.Int64
	requests  atomic.Int64
	malformed atomic.Int64 // error answers not in the contract's format

	mu        sync.Mutex
	acked     map[string]ack // idempotency key -> first acknowledged withdrawal
	conflicts []string       // one key answered with two different withdrawals
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

type ack struct {
	merchant merchant
	id       string
	body     map[string]any
}

var addresses = []string{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"}

func (l *load) seed(ctx context.Context, n int) error {
	l.acked = map[string]ack{}
	for i := range n {
		var m struct{ ID string }
		if err := l.adminJSON(ctx, "POST", "/api/admin/merchants", map[string]any{"name": fmt.Sprintf("chaos-%d", i)}, &m); err != nil {
			return err
		}
		var k struct{ Key string }
		if err := l.adminJSON(ctx, "POST", "/api/admin/merchants/"+m.ID+"/api-keys", map[string]any{"name": "chaos"}, &k); err != nil {
			return err
		}
		if err := l.adminJSON(ctx, "POST", "/api/admin/merchants/"+m.ID+"/credits", map[string]any{"token": "USDT", "amount": "100000000", "reference": "chaos"}, nil); err != nil {
			return err
		}
		status, out, err := l.h.pick().client.Call(ctx, "POST", "/api/webhook-endpoints", k.Key, map[string]any{"url": l.h.receiver.url}, nil)
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("webhook endpoint: %d %s %v", status, out, err)
		}
		l.merchants = append(l.merchants, merchant{id: m.ID, key: k.Key})
	}
	return nil
}

func (l *load) adminJSON(ctx context.Context, method, path string, body, into any) error {
	status, out, err := l.h.admin(ctx, method, path, body)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, status, out)
	}
	if into != nil {
		return json.Unmarshal(out, into)
	}
	return nil
}

func (l *load) start(ctx context.Context) {
	ctx, l.cancel = context.WithCancel(ctx)
	for range l.h.cfg.Workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil {
				l.one(ctx)
				time.Sleep(10 * time.Millisecond) // steady, not saturating
			}
		}()
	}
}

func (l *load) stop() {
	if l.cancel != nil {
		l.cancel()
		l.wg.Wait()
		l.cancel = nil
	}
}

// one creates a withdrawal (or, one time in ten, replays an acknowledged one) and
// retries it under the same key until it gets a definitive answer.
func (l *load) one(ctx context.Context) {
	key, m, body := l.next()
	for attempt := 0; attempt < 50 && ctx.Err() == nil; attempt++ {
		l.requests.Add(1)
		// Any instance: a retry may well land on another one, as behind a load balancer.
		status, out, err := l.h.pick().client.Call(context.WithoutCancel(ctx), "POST", "/api/withdrawals", m.key, body, map[string]string{"Idempotency-Key": key})
		switch {
		case err != nil:
		case status == http.StatusCreated:
			var w struct{ ID string }
			_ = json.Unmarshal(out, &w)
			l.record(key, m, w.ID, body)
			return
		case status >= 500 || status == http.StatusConflict:
			l.checkErrorFormat(status, out)
		default:
			l.checkErrorFormat(status, out)
			return // a definitive refusal: nothing was created
		}
		time.Sleep(time.Duration(50+rand.IntN(150)) * time.Millisecond)
	}
}

func (l *load) next() (string, merchant, map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.acked) > 0 && rand.IntN(10) == 0 {
		for key, a := range l.acked { // map order is random enough
			return key, a.merchant, a.body
		}
	}
	n := l.seq.Add(1)
	m := l.merchants[rand.IntN(len(l.merchants))]
	body := map[string]any{"token": "USDT", "amount": fmt.Sprintf("%d", 10+n%50), "address": addresses[n%2],
		"metadata": map[string]any{"orderId": fmt.Sprintf("order-%d", n)}}
	return fmt.Sprintf("chaos-%d", n), m, body
}

func (l *load) record(key string, m merchant, id string, body map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.acked[key]; ok {
		if prev.id != id {
			l.conflicts = append(l.conflicts, fmt.Sprintf("key %s answered with %s and %s", key, prev.id, id))
		}
		return
	}
	l.acked[key] = ack{merchant: m, id: id, body: body}
}

// checkErrorFormat counts error answers that are not the contract's error body.
func (l *load) checkErrorFormat(status int, out []byte) {
	var e struct {
		Error      string `json:"error"`
		Message    string `json:"message"`
		StatusCode int    `json:"statusCode"`
	}
	if json.Unmarshal(out, &e) != nil || e.Error == "" || e.Message == "" || e.StatusCode != status {
		l.malformed.Add(1)
		fmt.Printf("  malformed %d answer: %.200s\n", status, out)
	}
}

func (l *load) snapshot() (map[string]ack, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	acked := make(map[string]ack, len(l.acked))
	for k, v := range l.acked {
		acked[k] = v
	}
	return acked, append([]string(nil), l.conflicts...)
}
