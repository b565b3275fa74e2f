package services

import "time"

// Clock returns the current time; tests pass a fixed or stepping clock.
type Clock func() time.Time

// Now is the clock's time at PostgreSQL's precision, so what a response shows equals
// what a later read returns.
func (c Clock) Now() time.Time { return c().UTC().Truncate(time.Microsecond) }
