// Package ids makes every identifier the service creates: a prefix naming the kind of
// record and random base62 characters from crypto/rand. Ids are never sequences, so
// rows can be sharded by merchant (docs/SCALING.md), and this is the only generator:
// no SQL of the schema makes ids of its own.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// random returns n characters drawn uniformly from base62.
func random(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n+n/2)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic("crypto/rand failed: " + err.Error()) // the OS has no entropy: nothing safe to do
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting larger bytes keeps the distribution uniform
			if b < 248 && i < n {
				out[i] = base62[b%62]
				i++
			}
		}
	}
	return string(out)
}

func Withdrawal() string   { return "wth_" + random(16) }
func Merchant() string     { return "mer_" + random(16) }
func APIKey() string       { return "key_" + random(16) }
func Journal() string      { return "jrn_" + random(20) }
func Entry() string        { return "ent_" + random(20) }
func Batch() string        { return "bat_" + random(16) }
func BatchRequest() string { return "wbr_" + random(16) }
func Action() string       { return "act_" + random(16) }
func Event() string        { return "evt_" + random(20) }
func Endpoint() string     { return "we_" + random(16) }
func Attempt() string      { return "wha_" + random(20) }
func Whitelist() string    { return "wl_" + random(16) }

// API keys are "wk_" and 40 base62 characters (238 bits of entropy).
const (
	apiKeyPrefix = "wk_"
	apiKeyLength = len(apiKeyPrefix) + 40
)

// APIKeySecret returns a new plaintext API key.
func APIKeySecret() string { return apiKeyPrefix + random(apiKeyLength-len(apiKeyPrefix)) }

// IsAPIKeyShaped reports whether s has the form of a key APIKeySecret makes, so that any
// other string is refused without a database lookup.
func IsAPIKeyShaped(s string) bool {
	if len(s) != apiKeyLength || s[:len(apiKeyPrefix)] != apiKeyPrefix {
		return false
	}
	for i := len(apiKeyPrefix); i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// HashAPIKey is the only form in which a key is stored or looked up.
func HashAPIKey(plaintext string) []byte {
	sum := sha256.Sum256([]byte(plaintext))
	return sum[:]
}
