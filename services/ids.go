package services

import (
	"crypto/rand"
	"crypto/sha256"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters drawn uniformly from base62 using crypto/rand.
func randomBase62(n int) string {
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

// Ids are a prefix plus random base62: no sequences, so rows can be sharded by merchant.
func newWithdrawalID() string { return "wth_" + randomBase62(16) }
func newMerchantID() string   { return "mer_" + randomBase62(16) }
func newAPIKeyID() string     { return "key_" + randomBase62(16) }
func newJournalID() string    { return "jrn_" + randomBase62(20) }
func newEntryID() string      { return "ent_" + randomBase62(20) }

// API keys are "wk_" and 40 base62 characters (238 bits of entropy).
const (
	apiKeyPrefix = "wk_"
	apiKeyLength = len(apiKeyPrefix) + 40
)

// newAPIKeySecret returns a plaintext API key.
func newAPIKeySecret() string { return apiKeyPrefix + randomBase62(apiKeyLength-len(apiKeyPrefix)) }

// isAPIKeyShaped reports whether s has the form of a key newAPIKeySecret makes, so that
// any other string is refused without a database lookup.
func isAPIKeyShaped(s string) bool {
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

func newBatchID() string  { return "bat_" + randomBase62(16) }
func newActionID() string { return "act_" + randomBase62(16) }

func newEventID() string    { return "evt_" + randomBase62(20) }
func newEndpointID() string { return "we_" + randomBase62(16) }
func newDeliveryID() string { return "whd_" + randomBase62(20) }
func newAttemptID() string  { return "wha_" + randomBase62(20) }

func newWhitelistID() string { return "wl_" + randomBase62(16) }
