package webhookhttp_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/paycore/withdrawals/internal/webhookhttp"
)

// The published Standard Webhooks test vector.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	got, err := webhookhttp.Sign(vectorSecret, vectorID, vectorTS, []byte(vectorBody))
	if err != nil || got != vectorSig {
		t.Fatalf("Sign = %q, %v; want %q", got, err, vectorSig)
	}
	if !webhookhttp.Verify(vectorSecret, vectorID, "1614265330", vectorSig, []byte(vectorBody)) {
		t.Error("Verify rejects the vector")
	}
	if webhookhttp.Verify(vectorSecret, vectorID, "1614265331", vectorSig, []byte(vectorBody)) {
		t.Error("Verify accepts another timestamp")
	}
}

// headersOf turns our headers into an http.Header for the reference library.
func headersOf(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

func TestHeadersVerifyWithTheReferenceLibraryDuringRotation(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := webhookhttp.NewSecret(), webhookhttp.NewSecret()
	if !strings.HasPrefix(newSecret, "whsec_") || len(newSecret) < len("whsec_")+32 {
		t.Fatalf("secret %q", newSecret)
	}
	body := []byte(`{"id":"evt_1","event":"withdrawal.confirmed","data":{"amount":"100"}}`)
	now := time.Now().Unix()
	h, err := webhookhttp.Headers([]string{newSecret, oldSecret}, "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if sigs := strings.Fields(h["webhook-signature"]); len(sigs) != 2 {
		t.Fatalf("want two signatures during rotation: %q", h["webhook-signature"])
	}
	for name, secret := range map[string]string{"new": newSecret, "old": oldSecret} {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, headersOf(h)); err != nil {
			t.Errorf("reference library rejects the %s secret: %v", name, err)
		}
	}
	stranger, _ := standardwebhooks.NewWebhook(webhookhttp.NewSecret())
	if err := stranger.Verify(body, headersOf(h)); err == nil {
		t.Error("a third secret verifies")
	}
	if err := func() error {
		wh, _ := standardwebhooks.NewWebhook(newSecret)
		return wh.Verify([]byte(`{"tampered":true}`), headersOf(h))
	}(); err == nil {
		t.Error("a tampered body verifies")
	}

	// DCE Pay's header: hex HMAC-SHA256 of the raw body, keyed with the secret string.
	mac := hmac.New(sha256.New, []byte(newSecret))
	mac.Write(body)
	if want := hex.EncodeToString(mac.Sum(nil)); h["X-Webhook-Signature"] != want {
		t.Errorf("X-Webhook-Signature = %s, want %s", h["X-Webhook-Signature"], want)
	}
}
