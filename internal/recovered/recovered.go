// Package recovered turns a panic into an error that keeps the panic's stack, so that a
// bug met by one request, or by one batch of requests, fails that work with a logged
// INTERNAL_ERROR instead of dropping connections or leaving other requests waiting.
package recovered

import (
	"fmt"
	"runtime/debug"
)

// Error is a recovered panic.
type Error struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack, for the log
}

func (e *Error) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// New wraps a value returned by recover. Call it from the deferred function that
// recovered, so the stack still shows where the panic happened.
func New(v any) *Error { return &Error{Value: v, Stack: debug.Stack()} }

// Into, deferred, turns a panic of the function deferring it into that function's error
// result: `defer recovered.Into(&err)`.
func Into(err *error) {
	if v := recover(); v != nil {
		*err = New(v)
	}
}
