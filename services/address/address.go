// Package address validates withdrawal destinations per address format, with real
// checksums: base58check and bech32/bech32m for Bitcoin (through btcutil), EIP-55 for
// EVM chains. It is pure: no database, no network.
package address

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"golang.org/x/crypto/sha3"
)

// Address formats, as stored in tokens.address_format.
const (
	FormatBitcoin = "bitcoin"
	FormatEVM     = "evm"
)

// Validator checks addresses for the Bitcoin network it was configured with.
type Validator struct {
	bitcoin *chaincfg.Params
}

// BitcoinNetworks are the accepted values of BITCOIN_NETWORK.
var BitcoinNetworks = map[string]*chaincfg.Params{
	"mainnet": &chaincfg.MainNetParams,
	"testnet": &chaincfg.TestNet3Params,
	"signet":  &chaincfg.SigNetParams,
	"regtest": &chaincfg.RegressionNetParams,
}

// NewValidator returns a validator for the named Bitcoin network ("mainnet", "testnet", "signet", "regtest").
func NewValidator(bitcoinNetwork string) (*Validator, error) {
	params, ok := BitcoinNetworks[bitcoinNetwork]
	if !ok {
		return nil, fmt.Errorf("address: unknown bitcoin network %q", bitcoinNetwork)
	}
	return &Validator{bitcoin: params}, nil
}

// Validate returns nil when addr is a valid destination in the given format. The error
// says why not, in words a merchant can act on.
func (v *Validator) Validate(format, addr string) error {
	if addr == "" || len(addr) > 128 {
		return errors.New("address is empty or too long")
	}
	switch format {
	case FormatBitcoin:
		return v.validateBitcoin(addr)
	case FormatEVM:
		return validateEVM(addr)
	default:
		return fmt.Errorf("address format %q is not supported", format)
	}
}

func (v *Validator) validateBitcoin(addr string) error {
	decoded, err := btcutil.DecodeAddress(addr, v.bitcoin)
	if err != nil {
		return errors.New("not a valid Bitcoin address (bad encoding or checksum)")
	}
	switch decoded.(type) {
	case *btcutil.AddressPubKeyHash, *btcutil.AddressScriptHash,
		*btcutil.AddressWitnessPubKeyHash, *btcutil.AddressWitnessScriptHash, *btcutil.AddressTaproot:
	default:
		// Raw public keys, anchors and future witness versions are not payout destinations.
		return errors.New("unsupported Bitcoin address type")
	}
	if !decoded.IsForNet(v.bitcoin) {
		return fmt.Errorf("address is not for Bitcoin %s", v.bitcoin.Name)
	}
	return nil
}

func validateEVM(addr string) error {
	if len(addr) != 42 || !strings.HasPrefix(addr, "0x") {
		return errors.New("an EVM address is 0x followed by 40 hex characters")
	}
	body := addr[2:]
	if _, err := hex.DecodeString(body); err != nil {
		return errors.New("an EVM address is 0x followed by 40 hex characters")
	}
	// All-lowercase or all-uppercase addresses carry no checksum; mixed case must be EIP-55.
	if body == strings.ToLower(body) || body == strings.ToUpper(body) {
		return nil
	}
	if body != eip55(body) {
		return errors.New("mixed-case address fails its EIP-55 checksum")
	}
	return nil
}

// eip55 returns the checksummed spelling of a 40-hex-character address body.
func eip55(body string) string {
	lower := strings.ToLower(body)
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(lower))
	digest := h.Sum(nil)
	out := []byte(lower)
	for i, c := range out {
		if c < 'a' {
			continue // digits have no case
		}
		nibble := digest[i/2]
		if i%2 == 0 {
			nibble >>= 4
		}
		if nibble&0x0f >= 8 {
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out)
}

// Normalize returns the spelling used to compare addresses: EVM addresses and bech32
// addresses are case-insensitive, so they compare in lower case; base58 is not.
func Normalize(format, addr string) string {
	lower := strings.ToLower(addr)
	switch {
	case format == FormatEVM:
		return lower
	case format == FormatBitcoin && (strings.HasPrefix(lower, "bc1") || strings.HasPrefix(lower, "tb1") || strings.HasPrefix(lower, "bcrt1")):
		return lower
	}
	return addr
}
