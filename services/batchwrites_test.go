package services

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Claims and settlements wait for one of the instance's batch-write places, however
// many job workers run them, and a cancelled wait gives up without writing.
func TestBatchWritesBounded(t *testing.T) {
	for _, places := range []int{1, 2, 3} {
		p := NewPayouts(nil, nil, nil, PayoutConfig{BatchWrites: places}, nil, nil, nil)
		var inside, most atomic.Int32
		var wg sync.WaitGroup
		for range 12 {
			wg.Go(func() {
				err := p.batchWrite(context.Background(), func() error {
					n := inside.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					// Stay until every place is taken (or a second has passed), and a
					// little longer, so that a write let in beyond the bound is seen.
					for deadline := time.Now().Add(time.Second); inside.Load() < int32(places) && time.Now().Before(deadline); {
						time.Sleep(time.Millisecond)
					}
					time.Sleep(2 * time.Millisecond)
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := int(most.Load()); got != places {
			t.Errorf("%d places: at most %d writes ran at once, want exactly %d", places, got, places)
		}
	}

	p := NewPayouts(nil, nil, nil, PayoutConfig{BatchWrites: 1}, nil, nil, nil)
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

	if got := cap(NewPayouts(nil, nil, nil, PayoutConfig{}, nil, nil, nil).batchWrites); got != 2 {
		t.Errorf("default batch-write places %d, want 2", got)
	}
}
