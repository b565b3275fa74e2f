package services

import (
	"context"
	"sync"

	"github.com/paycore/withdrawals/internal/recovered"
)

// batcher lets concurrent requests share one database statement: withdrawal creation
// (group commit, groupcommit.go) and balance reads (balances.go).
//
// Calls are queued, and at most `runners` of the waiting requests' own goroutines run
// what is queued, so nothing runs when nothing is asked and nothing waits on purpose: a
// call that finds a runner's place free is run at once, alone. Calls that arrive while
// a batch is in the database wait for the next one, which carries all of them (up to
// maxBatch). A runner runs batches until its own call is answered, then hands its place
// to the oldest waiting call: no request keeps working for others after its own answer.
//
// A batch runs in some request's goroutine, on behalf of others: a panic in it is
// recovered, fails the batch's unanswered calls with a *recovered.Error and frees the
// runner's place, so a bug fails one batch's requests with INTERNAL_ERROR instead of
// leaving them, and every later call once the places are gone, waiting for good.
type batcher[C batchable] struct {
	runners  int // how many batches may run at once
	maxBatch int // bounds one statement, and so the wait of the first call in it
	// run answers every call of the batch (sets its result and calls finish).
	run func(ctx context.Context, batch []C)

	mu      sync.Mutex
	queue   []C
	running int // goroutines running batches, or promoted and about to
}

// batchable is a call a batcher can queue: it embeds a batchCall.
type batchable interface{ batchState() *batchCall }

// batchCall is the batcher's bookkeeping for one call.
type batchCall struct {
	done chan struct{} // closed by finish once the call is answered
	// promote hands this call's goroutine a runner's place; promoted (under the
	// batcher's lock) makes sure it is handed at most once.
	promote  chan struct{}
	promoted bool
	failed   error // set (before finish) when the batch carrying the call panicked
}

func (b *batchCall) batchState() *batchCall { return b }

// finish marks the call answered; run calls it once per call, after setting the result.
func (b *batchCall) finish() { close(b.done) }

// answered reports whether finish was called.
func (b *batchCall) answered() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// do queues the call and returns once it is answered: nil, or the *recovered.Error of
// a batch that panicked before answering it.
func (g *batcher[C]) do(ctx context.Context, call C) error {
	c := call.batchState()
	c.done, c.promote = make(chan struct{}), make(chan struct{}, 1)
	g.mu.Lock()
	g.queue = append(g.queue, call)
	lead := g.running < g.runners
	if lead {
		g.running++
	}
	g.mu.Unlock()
	// A batch must not be cut short by one request's cancellation: it carries others.
	runCtx := context.WithoutCancel(ctx)
	for {
		if lead {
			g.lead(runCtx, c)
		}
		select {
		case <-c.promote:
			lead = true
		case <-c.done:
			// A promotion is always sent while the call is still queued, so before
			// done: if there is one, it is already here, and the place must be used.
			select {
			case <-c.promote:
				lead = true
			default:
				return c.failed
			}
		}
	}
}

// lead runs batches from the front of the queue until own is answered or the queue is
// empty, then gives up its runner's place.
func (g *batcher[C]) lead(ctx context.Context, own *batchCall) {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		if own.answered() {
			if next := g.queue[0].batchState(); !next.promoted {
				next.promoted = true
				next.promote <- struct{}{}
			} else {
				g.running-- // the oldest call already has a place coming
			}
			g.mu.Unlock()
			return
		}
		n := min(len(g.queue), g.maxBatch)
		batch := make([]C, n)
		copy(batch, g.queue)
		g.queue = g.queue[n:]
		if len(g.queue) == 0 {
			g.queue = nil // let the backing array go
		}
		g.mu.Unlock()
		g.runBatch(ctx, batch)
	}
}

// runBatch runs one batch; if it panics, the calls it has not answered are failed.
func (g *batcher[C]) runBatch(ctx context.Context, batch []C) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		err := recovered.New(v)
		for _, call := range batch {
			if c := call.batchState(); !c.answered() {
				c.failed = err
				c.finish()
			}
		}
	}()
	g.run(ctx, batch)
}
