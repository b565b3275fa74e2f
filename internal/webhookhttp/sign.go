// Package webhooks signs and sends merchant webhooks: Standard Webhooks signatures
// (plus DCE Pay's X-Webhook-Signature for merchants moving over), and an HTTP client
// that refuses private, loopback and link-local destinations at connect time. It knows
// nothing of events or deliveries; services decides what to send and when.
package webhookhttp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

const secretPrefix = "whsec_"

// NewSecret returns a signing secret: "whsec_" + base64 of 32 random bytes.
func NewSecret() string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// secretKey is the HMAC key of a Standard Webhooks secret: the base64 after "whsec_".
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhooks: malformed secret")
	}
	return key, nil
}

// Sign returns the Standard Webhooks signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
func Sign(secret, msgID string, timestamp int64, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignDCE returns DCE Pay's X-Webhook-Signature: lowercase hex HMAC-SHA256 of the raw
// body, keyed with the secret exactly as shown to the merchant ("whsec_...").
func SignDCE(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Headers are the signature headers of one request. Every secret given signs: during a
// rotation both the new and the old one, space separated, so receivers holding either
// verify. The DCE Pay header uses the first (current) secret.
func Headers(secrets []string, msgID string, timestamp int64, body []byte) (map[string]string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, timestamp, body)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
	}
	return map[string]string{
		"webhook-id":          msgID,
		"webhook-timestamp":   strconv.FormatInt(timestamp, 10),
		"webhook-signature":   strings.Join(sigs, " "),
		"X-Webhook-Signature": SignDCE(secrets[0], body),
	}, nil
}

// Verify checks a request as a receiver would (Standard Webhooks): any one of the
// signatures in the header must match. Tolerance checks on the timestamp are the
// receiver's; this is the algorithm only.
func Verify(secret, msgID, timestamp, signatureHeader string, body []byte) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	want, err := Sign(secret, msgID, ts, body)
	if err != nil {
		return false
	}
	for _, got := range strings.Fields(signatureHeader) {
		if hmac.Equal([]byte(got), []byte(want)) {
			return true
		}
	}
	return false
}
