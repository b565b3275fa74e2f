package recovered_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/paycore/withdrawals/internal/recovered"
)

func element(s []int, i int) int { return s[i] }

func panicsWithin() (err error) {
	defer recovered.Into(&err)
	element(nil, 3) // out of range: a runtime panic, as a bug would raise
	return nil
}

func TestIntoTurnsAPanicIntoTheFunctionsError(t *testing.T) {
	err := panicsWithin()
	var p *recovered.Error
	if !errors.As(err, &p) {
		t.Fatalf("error %v (%T), want a *recovered.Error", err, err)
	}
	if !strings.Contains(err.Error(), "index out of range [3] with length 0") {
		t.Errorf("message %q does not say what panicked", err.Error())
	}
	if !strings.Contains(string(p.Stack), "recovered_test.panicsWithin") {
		t.Errorf("stack does not show where the panic happened:\n%s", p.Stack)
	}
}

func TestIntoLeavesAnErrorAloneWithoutAPanic(t *testing.T) {
	want := errors.New("plain failure")
	err := func() (err error) {
		defer recovered.Into(&err)
		return want
	}()
	if err != want {
		t.Fatalf("error %v, want %v", err, want)
	}
}
