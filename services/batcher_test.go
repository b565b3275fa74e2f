package services

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paycore/withdrawals/internal/recovered"
)

// A panic in a batch fails the calls it had not answered, keeps the answers it had
// given, and frees the runner's place: later calls are run as usual.
func TestBatcherPanicFailsOnlyItsBatchsUnansweredCalls(t *testing.T) {
	gate := make(chan struct{})
	var (
		runs          atomic.Int64
		firstOfSecond *createCall
	)
	g := &batcher[*createCall]{runners: 1, maxBatch: 64, run: func(_ context.Context, calls []*createCall) {
		switch runs.Add(1) {
		case 1:
			<-gate // hold the only runner's place while three more calls queue
		case 2:
			firstOfSecond = calls[0]
			calls[0].outcome = outcomeCreated
			calls[0].finish()
			panic("a bug, met after the batch's first call was answered")
		}
		for _, c := range calls {
			c.outcome = outcomeCreated
			c.finish()
		}
	}}
	do := func(c *createCall, errs chan<- error) { errs <- g.do(context.Background(), c) }

	lead, leadErr := &createCall{}, make(chan error, 1)
	go do(lead, leadErr)
	for runs.Load() < 1 {
		runtime.Gosched()
	}
	queued := []*createCall{{}, {}, {}}
	errs := make([]chan error, len(queued))
	for i, c := range queued {
		errs[i] = make(chan error, 1)
		go do(c, errs[i])
	}
	for queueLen(g) < len(queued) {
		runtime.Gosched()
	}
	close(gate)

	if err := <-leadErr; err != nil || lead.outcome != outcomeCreated {
		t.Fatalf("first batch: err %v, outcome %q; want created", err, lead.outcome)
	}
	for i, c := range queued {
		err := <-errs[i]
		if c == firstOfSecond {
			if err != nil || c.outcome != outcomeCreated {
				t.Errorf("call answered before the panic: err %v, outcome %q; want its answer kept", err, c.outcome)
			}
			continue
		}
		var p *recovered.Error
		if !errors.As(err, &p) {
			t.Errorf("call left unanswered by the panic: err %v, want a *recovered.Error", err)
		}
	}

	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &createCall{}
			if err := g.do(context.Background(), c); err != nil || c.outcome != outcomeCreated {
				t.Errorf("call after the panic: err %v, outcome %q; want created", err, c.outcome)
			}
		}()
	}
	wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running != 0 || len(g.queue) != 0 {
		t.Fatalf("after the panic: %d runners, %d queued; want none", g.running, len(g.queue))
	}
}

func queueLen[C batchable](g *batcher[C]) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}
