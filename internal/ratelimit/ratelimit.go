// Package ratelimit keeps token buckets per key in memory. Limits are per instance:
// N replicas allow N times the configured rate (README, operator section).
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Limiter holds one bucket per key for one limit.
type Limiter struct {
	perMinute int
	clock     func() time.Time
	mu        sync.Mutex
	buckets   map[string]*bucket
	calls     int
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Decision is the outcome of one Take, with what the RateLimit-* headers report.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int
	RetryAfter time.Duration // until one token is back, when refused
	Reset      time.Duration // until the bucket is full again
}

// New returns a limiter of perMinute requests a minute per key, with bursts up to
// perMinute. perMinute <= 0 disables it.
func New(perMinute int, clock func() time.Time) *Limiter {
	return &Limiter{perMinute: perMinute, clock: clock, buckets: map[string]*bucket{}}
}

// TakeAll takes one token from each limiter's bucket for key, or from none: a request
// refused by the stricter limit does not spend the general one.
func TakeAll(key string, limiters ...*Limiter) Decision {
	decisions := make([]Decision, 0, len(limiters))
	for _, l := range limiters {
		if l == nil || l.perMinute <= 0 {
			continue
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		decisions = append(decisions, l.peek(key))
	}
	if len(decisions) == 0 {
		return Decision{Allowed: true}
	}
	// Refuse with the first limit that refuses; otherwise report the tightest one.
	report := decisions[0]
	for _, d := range decisions {
		if !d.Allowed {
			return d
		}
		if d.Remaining < report.Remaining {
			report = d
		}
	}
	for _, l := range limiters {
		if l != nil && l.perMinute > 0 {
			l.buckets[key].tokens--
		}
	}
	report.Remaining--
	return report
}

// Peek reports whether key's bucket holds a token, without taking it: for limits that
// count failures, checked before the work and spent only when it fails.
func (l *Limiter) Peek(key string) Decision {
	if l == nil || l.perMinute <= 0 {
		return Decision{Allowed: true}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peek(key)
}

// peek refills key's bucket and says whether a token is there, without taking it.
// The caller holds l.mu.
func (l *Limiter) peek(key string) Decision {
	now := l.clock()
	rate := float64(l.perMinute) / 60 // tokens per second
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(l.perMinute), last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(float64(l.perMinute), b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	l.sweep(now)
	d := Decision{Limit: l.perMinute, Remaining: int(b.tokens), Allowed: b.tokens >= 1}
	if !d.Allowed {
		d.RetryAfter = time.Duration((1 - b.tokens) / rate * float64(time.Second))
	}
	d.Reset = time.Duration((float64(l.perMinute) - b.tokens) / rate * float64(time.Second))
	return d
}

// sweep forgets buckets idle long enough to be full again, every 10,000 calls, so
// memory follows the number of active keys.
func (l *Limiter) sweep(now time.Time) {
	l.calls++
	if l.calls%10_000 != 0 {
		return
	}
	for k, b := range l.buckets {
		if now.Sub(b.last) > time.Minute {
			delete(l.buckets, k)
		}
	}
}
