// Package address validates withdrawal destinations per address format, with real
// checksums: base58check and bech32/bech32m for Bitcoin and Litecoin (through btcutil), EIP-55 for
// EVM chains, base58check for Tron. It is pure: no database, no network.
package address

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/chaincfg"
	"golang.org/x/crypto/sha3"
)

// Address formats, as stored in tokens.address_format.
const (
	FormatBitcoin  = "bitcoin"
	FormatLitecoin = "litecoin"
	FormatEVM      = "evm"
	FormatTron     = "tron"
)

// Networks names the network of each Bitcoin-family chain whose addresses are valid
// (BITCOIN_NETWORK, LITECOIN_NETWORK); empty means mainnet.
type Networks struct {
	Bitcoin, Litecoin string
}

// Validator checks addresses for the networks it was configured with.
type Validator struct {
	bitcoin, litecoin *chain
}

// chain is one Bitcoin-family chain on one network: its address parameters, and the
// P2SH version byte it used before it moved script addresses to a prefix of their own
// (Litecoin's "3" before "M"), refused with a pointer to the new form.
type chain struct {
	name       string
	params     *chaincfg.Params
	oldP2SHID  byte
	oldP2SHFix string
}

// BitcoinNetworks are the accepted values of BITCOIN_NETWORK.
var BitcoinNetworks = map[string]*chaincfg.Params{
	"mainnet": &chaincfg.MainNetParams,
	"testnet": &chaincfg.TestNet3Params,
	"signet":  &chaincfg.SigNetParams,
	"regtest": &chaincfg.RegressionNetParams,
}

// LitecoinNetworks are the accepted values of LITECOIN_NETWORK, with Litecoin Core's
// address prefixes: P2PKH L (m/n on test networks), P2SH M (Q), bech32 ltc1 (tltc1,
// rltc1). Net only has to be unique for chaincfg.Register (Litecoin's regtest shares
// Bitcoin's message-start bytes), so it spells "LTC" and a network number.
var LitecoinNetworks = map[string]*chaincfg.Params{
	"mainnet": {Name: "litecoin-mainnet", Net: 0x4c544301, PubKeyHashAddrID: 48, ScriptHashAddrID: 50, Bech32HRPSegwit: "ltc"},
	"testnet": {Name: "litecoin-testnet4", Net: 0x4c544302, PubKeyHashAddrID: 111, ScriptHashAddrID: 58, Bech32HRPSegwit: "tltc"},
	"regtest": {Name: "litecoin-regtest", Net: 0x4c544303, PubKeyHashAddrID: 111, ScriptHashAddrID: 58, Bech32HRPSegwit: "rltc"},
}

func init() {
	// btcutil recognises a bech32 address only by a registered prefix.
	for _, params := range LitecoinNetworks {
		if err := chaincfg.Register(params); err != nil {
			panic(fmt.Sprintf("address: register %s: %v", params.Name, err))
		}
	}
}

// NewValidator returns a validator for the named networks.
func NewValidator(n Networks) (*Validator, error) {
	btc, ok := BitcoinNetworks[cmp.Or(n.Bitcoin, "mainnet")]
	if !ok {
		return nil, fmt.Errorf("address: unknown bitcoin network %q", n.Bitcoin)
	}
	ltc, ok := LitecoinNetworks[cmp.Or(n.Litecoin, "mainnet")]
	if !ok {
		return nil, fmt.Errorf("address: unknown litecoin network %q", n.Litecoin)
	}
	oldLTC := byte(5) // mainnet "3"
	if ltc.PubKeyHashAddrID != 48 {
		oldLTC = 196 // test networks "2"
	}
	return &Validator{
		bitcoin:  &chain{name: "Bitcoin", params: btc},
		litecoin: &chain{name: "Litecoin", params: ltc, oldP2SHID: oldLTC, oldP2SHFix: "use its M (or Q on test networks) form"},
	}, nil
}

// Validate returns nil when addr is a valid destination in the given format. The error
// says why not, in words a merchant can act on.
func (v *Validator) Validate(format, addr string) error {
	if addr == "" || len(addr) > 128 {
		return errors.New("address is empty or too long")
	}
	switch format {
	case FormatBitcoin:
		return v.bitcoin.validate(addr)
	case FormatLitecoin:
		return v.litecoin.validate(addr)
	case FormatEVM:
		return validateEVM(addr)
	case FormatTron:
		return validateTron(addr)
	default:
		return fmt.Errorf("address format %q is not supported", format)
	}
}

func (c *chain) validate(addr string) error {
	decoded, err := btcutil.DecodeAddress(addr, c.params)
	if err != nil {
		if c.oldP2SHID != 0 {
			if _, ver, err := base58.CheckDecode(addr); err == nil && ver == c.oldP2SHID {
				return fmt.Errorf("this %s script address uses the deprecated prefix; %s", c.name, c.oldP2SHFix)
			}
		}
		return fmt.Errorf("not a valid %s address (bad encoding or checksum)", c.name)
	}
	switch decoded.(type) {
	case *btcutil.AddressPubKeyHash, *btcutil.AddressScriptHash,
		*btcutil.AddressWitnessPubKeyHash, *btcutil.AddressWitnessScriptHash, *btcutil.AddressTaproot:
	default:
		// Raw public keys, anchors and future witness versions are not payout destinations.
		return fmt.Errorf("unsupported %s address type", c.name)
	}
	if !decoded.IsForNet(c.params) {
		return fmt.Errorf("address is not for %s %s", c.name, strings.TrimPrefix(c.params.Name, "litecoin-"))
	}
	return nil
}

// validateTron checks a Tron address: base58check of the version byte 0x41 and a
// 20-byte account (34 characters starting with T).
func validateTron(addr string) error {
	payload, version, err := base58.CheckDecode(addr)
	if err != nil {
		return errors.New("not a valid Tron address (bad encoding or checksum)")
	}
	if version != 0x41 || len(payload) != 20 {
		return errors.New("a Tron address is base58check of 0x41 and 20 bytes, starting with T")
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
	case format == FormatLitecoin && (strings.HasPrefix(lower, "ltc1") || strings.HasPrefix(lower, "tltc1") || strings.HasPrefix(lower, "rltc1")):
		return lower
	}
	return addr
}
