package webhookhttp_test

import (
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/paycore/withdrawals/internal/webhookhttp"
)

// FuzzSignVerify: what Sign produces, Verify accepts, and any change to the body, id or
// timestamp is refused.
func FuzzSignVerify(f *testing.F) {
	f.Add([]byte("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330), []byte(`{"test": 2432232314}`))
	f.Add([]byte{0}, "", int64(0), []byte{})
	f.Fuzz(func(t *testing.T, key []byte, id string, ts int64, body []byte) {
		if len(key) == 0 {
			return
		}
		secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
		sig, err := webhookhttp.Sign(secret, id, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		tsText := func(v int64) string { return strconv.FormatInt(v, 10) }
		if !webhookhttp.Verify(secret, id, tsText(ts), sig, body) {
			t.Fatalf("own signature refused")
		}
		if webhookhttp.Verify(secret, id, tsText(ts), sig, append(append([]byte{}, body...), 'x')) {
			t.Fatalf("signature accepted for another body")
		}
		if webhookhttp.Verify(secret, id+"x", tsText(ts), sig, body) {
			t.Fatalf("signature accepted for another id")
		}
		if ts < 1<<62 && webhookhttp.Verify(secret, id, tsText(ts+1), sig, body) {
			t.Fatalf("signature accepted for another timestamp")
		}
	})
}
