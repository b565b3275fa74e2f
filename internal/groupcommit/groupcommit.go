// Package groupcommit lets concurrent callers share one write: each call is queued, and
// dedicated writer goroutines take what is queued (up to a bound) and write it as one
// group, one round trip and one commit for all of it. Nothing waits on purpose: a
// writer that is free takes the first call at once, alone, so a quiet service answers
// as fast as without grouping and a busy one writes more per commit.
//
// It is a wrapper: the write itself is a plain function over a slice, readable and
// testable on its own (services/withdrawals' Recorder).
package groupcommit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/paycore/withdrawals/internal/recovered"
)

// Write writes a group and returns one result per item, in order. An error means no
// item has a result.
type Write[I, R any] func(ctx context.Context, items []I) ([]R, error)

// Config shapes the grouping.
type Config struct {
	// Writers is how many groups are written at once: one can be written while another
	// commits, and groups still grow under load.
	Writers int
	// MaxGroup bounds one group, and so the wait of the first call in it.
	MaxGroup int
	// Alone reports whether a group's error means the database refused the group as a
	// whole (and so rolled it back): its items are then written again one by one, so
	// one bad item cannot fail its neighbours. Any other error (a lost connection) is
	// every item's answer: the group may have committed.
	Alone func(error) bool
	// Observe, when set, is told each group's size and how long its write took.
	Observe func(items int, seconds float64)
}

// Group groups calls to write.
type Group[I, R any] struct {
	write Write[I, R]
	cfg   Config
	calls chan *call[I, R]
	wg    sync.WaitGroup
}

type call[I, R any] struct {
	item   I
	result R
	err    error
	done   chan struct{}
}

// New starts cfg.Writers writer goroutines; Close stops them.
func New[I, R any](write Write[I, R], cfg Config) *Group[I, R] {
	g := &Group[I, R]{write: write, cfg: cfg, calls: make(chan *call[I, R], cfg.MaxGroup*cfg.Writers)}
	for range cfg.Writers {
		g.wg.Add(1)
		go g.writer()
	}
	return g
}

// Do queues item and returns its result once its group is written. The caller's
// cancellation does not cut the group short: it carries other callers' items, and an
// item queued may be written whatever happens to its caller.
func (g *Group[I, R]) Do(item I) (R, error) {
	c := &call[I, R]{item: item, done: make(chan struct{})}
	g.calls <- c
	<-c.done
	return c.result, c.err
}

// Close lets the writers finish what is queued, then stops them. Do must not be called
// after Close.
func (g *Group[I, R]) Close() {
	close(g.calls)
	g.wg.Wait()
}

// writer takes the first call waiting (blocking until there is one), then whatever else
// is queued at that moment up to MaxGroup, and writes them together.
func (g *Group[I, R]) writer() {
	defer g.wg.Done()
	batch := make([]*call[I, R], 0, g.cfg.MaxGroup)
	for first := range g.calls {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < g.cfg.MaxGroup {
			select {
			case c, ok := <-g.calls:
				if !ok {
					break fill
				}
				batch = append(batch, c)
			default:
				break fill
			}
		}
		g.writeGroup(batch)
	}
}

// writeGroup writes a group and answers each of its calls; a group the database
// refused as a whole is written again item by item.
func (g *Group[I, R]) writeGroup(batch []*call[I, R]) {
	items := make([]I, len(batch))
	for i, c := range batch {
		items[i] = c.item
	}
	results, err := g.run(items)
	if err != nil && len(batch) > 1 && g.cfg.Alone != nil && g.cfg.Alone(err) {
		for _, c := range batch {
			g.writeGroup([]*call[I, R]{c})
		}
		return
	}
	for i, c := range batch {
		if err == nil {
			c.result = results[i]
		}
		c.err = err
		close(c.done)
	}
}

// run writes the items; a panic (a bug) becomes the group's error instead of killing
// the writer, and a result count that does not match is an error too.
func (g *Group[I, R]) run(items []I) (results []R, err error) {
	defer recovered.Into(&err)
	start := time.Now()
	results, err = g.write(context.Background(), items)
	if g.cfg.Observe != nil {
		g.cfg.Observe(len(items), time.Since(start).Seconds())
	}
	if err == nil && len(results) != len(items) {
		return nil, fmt.Errorf("groupcommit: %d results for %d items", len(results), len(items))
	}
	return results, err
}
