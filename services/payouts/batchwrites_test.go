package payouts

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/paycore/withdrawals/rails"
)

// Claims and settlements wait for one of the instance's batch-write places, however
// many job workers run them, and a cancelled wait gives up without writing.
func TestBatchWritesBounded(t *testing.T) {
	for _, places := range []int{1, 2, 3} {
		p := New(nil, rails.Rails{}, nil, Config{BatchWrites: places}, nil, nil, nil, nil)
		entered := make(chan struct{}, 12)
		release := make(chan struct{})
		var wg sync.WaitGroup
		for range 12 {
			wg.Go(func() {
				err := p.batchWrite(context.Background(), func() error {
					entered <- struct{}{}
					<-release
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		for range places {
			<-entered // every place is taken, and held until release
		}
		// The others wait now; one let in beyond the bound would show up within this
		// window (a bounded look, not a timing assertion: the bound holding passes it).
		select {
		case <-entered:
			t.Errorf("%d places: a write ran beyond the bound", places)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		wg.Wait()
		if got := len(entered); got != 12-places && !t.Failed() {
			t.Errorf("%d places: %d of the waiting writes ran after the release, want %d", places, got, 12-places)
		}
	}

	p := New(nil, rails.Rails{}, nil, Config{BatchWrites: 1}, nil, nil, nil, nil)
	release := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = p.batchWrite(context.Background(), func() error { close(held); <-release; return nil })
	}()
	<-held
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err := p.batchWrite(ctx, func() error { ran = true; return nil })
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("waiting past the context: err %v, ran %v; want the context's error and nothing run", err, ran)
	}

	if got := cap(New(nil, rails.Rails{}, nil, Config{}, nil, nil, nil, nil).batchWrites); got != 2 {
		t.Errorf("default batch-write places %d, want 2", got)
	}
}
