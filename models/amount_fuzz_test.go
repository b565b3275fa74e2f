package models_test

import (
	"regexp"
	"testing"

	"github.com/paycore/withdrawals/models"
)

var plainDecimal = regexp.MustCompile(`^[0-9]{1,20}(\.[0-9]{1,18})?$`)

// FuzzParseAmount: an accepted amount is a plain decimal that survives a round trip
// through its canonical text unchanged; nothing else is accepted; nothing panics.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0.001", "100", "1e3", "-1", "+5", " 1", "0x10", "NaN", "1.", ".5", "00012.3400",
		"99999999999999999999.999999999999999999", "123456789012345678901", "0.0000000000000000001", "１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := models.ParseAmount(s)
		if err != nil {
			return
		}
		if !plainDecimal.MatchString(s) {
			t.Fatalf("accepted %q, which is not a plain decimal", s)
		}
		if d.IsNegative() {
			t.Fatalf("accepted a negative amount %q", s)
		}
		back, err := models.ParseAmount(models.FormatAmount(d))
		if err != nil || !back.Equal(d) {
			t.Fatalf("%q -> %s does not round-trip: %v %v", s, models.FormatAmount(d), back, err)
		}
	})
}
