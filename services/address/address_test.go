package address_test

import (
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/base58"

	"github.com/paycore/withdrawals/services/address"
)

func TestValidateBitcoinMainnet(t *testing.T) {
	t.Parallel()
	v, err := address.NewValidator(address.Networks{})
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string]string{
		"P2PKH (genesis)":          "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
		"P2SH":                     "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
		"P2WPKH (DCE Pay example)": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
		"P2WPKH (BIP173)":          "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
		"P2WSH (BIP173)":           "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
		"P2TR (BIP86)":             "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",
		"P2WPKH uppercase":         "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
	}
	for name, a := range valid {
		if err := v.Validate(address.FormatBitcoin, a); err != nil {
			t.Errorf("%s %s: unexpected error: %v", name, a, err)
		}
	}
	invalid := map[string]string{
		"P2PKH bad checksum":          "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
		"P2SH bad checksum":           "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz",
		"bech32 bad checksum":         "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlj",
		"P2WSH bad checksum":          "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv4",
		"P2TR bad checksum":           "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcs",
		"taproot with bech32 not m":   "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
		"mixed case bech32":           "bc1qXy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
		"testnet P2WPKH on mainnet":   "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
		"testnet P2PKH on mainnet":    "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
		"regex-shaped, not base58chk": "1111111111111111111111111111111111",
		"raw public key":              "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
		"empty":                       "",
		"ethereum address":            "0x52908400098527886E0F7030069857D2E4169EE7",
	}
	for name, a := range invalid {
		if err := v.Validate(address.FormatBitcoin, a); err == nil {
			t.Errorf("%s %q: expected an error", name, a)
		}
	}
}

func TestValidateBitcoinTestnet(t *testing.T) {
	t.Parallel()
	v, err := address.NewValidator(address.Networks{Bitcoin: "testnet"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(address.FormatBitcoin, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"); err != nil {
		t.Errorf("testnet P2WPKH: %v", err)
	}
	if err := v.Validate(address.FormatBitcoin, "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"); err != nil {
		t.Errorf("testnet P2PKH: %v", err)
	}
	if err := v.Validate(address.FormatBitcoin, "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"); err == nil {
		t.Error("mainnet address accepted on testnet")
	}
	if _, err := address.NewValidator(address.Networks{Bitcoin: "moonnet"}); err == nil {
		t.Error("unknown network accepted")
	}
}

func TestValidateEVM(t *testing.T) {
	t.Parallel()
	v, _ := address.NewValidator(address.Networks{})
	valid := []string{
		// EIP-55 reference vectors
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77",
		"0x27b1fdb04752bbc536007a920d24acb045561c26",
		// no checksum information: all lower or all upper
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
		"0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",
	}
	for _, a := range valid {
		if err := v.Validate(address.FormatEVM, a); err != nil {
			t.Errorf("%s: unexpected error: %v", a, err)
		}
	}
	invalid := []string{
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", // one letter's case flipped
		"0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",   // 39 hex
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd", // 41 hex
		"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00",  // no 0x
		"0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  // capital X
		"0xgaAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  // not hex
		"bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
		"",
	}
	for _, a := range invalid {
		if err := v.Validate(address.FormatEVM, a); err == nil {
			t.Errorf("%q: expected an error", a)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	t.Parallel()
	v, _ := address.NewValidator(address.Networks{})
	if err := v.Validate("solana", "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"); err == nil {
		t.Error("unknown format accepted")
	}
}

// The valid addresses were made by Litecoin Core 0.21 (getnewaddress legacy, p2sh-segwit
// and bech32 on each network).
func TestValidateLitecoin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		network string
		valid   []string
		invalid map[string]string // address -> what the error must say
	}{
		{"mainnet", []string{"LNdHA6Jb2nozvnrxLuBiJyEpsiWtVx5xMV", "MVp7b5ZBkY4P5RR1nEA2dDzNiYyyaeX3CG",
			"ltc1qjjss69l2m5n2aa5gp9galul5gyfjgzcvrq0vkk", "LTC1QJJSS69L2M5N2AA5GP9GALUL5GYFJGZCVRQ0VKK"}, map[string]string{
			"LNdHA6Jb2nozvnrxLuBiJyEpsiWtVx5xMW":                    "not a valid Litecoin address",
			"ltc1qjjss69l2m5n2aa5gp9galul5gyfjgzcvrq0vkq":           "not a valid Litecoin address",
			withVersion(t, "MVp7b5ZBkY4P5RR1nEA2dDzNiYyyaeX3CG", 5): "use its M",
			"mhB1PLLwAKg97uzpKuGJLrF9jayEBpuRKC":                    "not a valid Litecoin address",
			"tltc1qkk2acrqgvzlpejme4j2rtnrs9r7ltemew6ctl8":          "not for Litecoin mainnet",
			"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa":                    "not a valid Litecoin address",
			"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4":            "not for Litecoin mainnet",
		}},
		{"testnet", []string{"mhB1PLLwAKg97uzpKuGJLrF9jayEBpuRKC", "QcE4JV1jRadKNDEfV7KHGQ1AhvfEgxbpSV",
			"tltc1qkk2acrqgvzlpejme4j2rtnrs9r7ltemew6ctl8"}, map[string]string{
			"LNdHA6Jb2nozvnrxLuBiJyEpsiWtVx5xMV":           "not a valid Litecoin address",
			"rltc1qru2jyhutjwqkugratznhmgemrr7fuj6t5apdcv": "not for Litecoin testnet4",
		}},
		{"regtest", []string{"mxpwZW5LvwShf58PEkUzB5sXKcLjThNuZj", "QVqYkmxV8owBJYAW6HnaZqfjha2QqSmEV6",
			"rltc1qru2jyhutjwqkugratznhmgemrr7fuj6t5apdcv"}, map[string]string{
			"ltc1qjjss69l2m5n2aa5gp9galul5gyfjgzcvrq0vkk":             "not for Litecoin regtest",
			withVersion(t, "QVqYkmxV8owBJYAW6HnaZqfjha2QqSmEV6", 196): "use its M (or Q",
		}},
	}
	for _, c := range cases {
		v, err := address.NewValidator(address.Networks{Litecoin: c.network})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range c.valid {
			if err := v.Validate(address.FormatLitecoin, a); err != nil {
				t.Errorf("%s %s: unexpected error: %v", c.network, a, err)
			}
			if err := v.Validate(address.FormatBitcoin, a); err == nil {
				t.Errorf("%s %s: accepted as a Bitcoin address", c.network, a)
			}
		}
		for a, want := range c.invalid {
			err := v.Validate(address.FormatLitecoin, a)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s %s: error %v, want one saying %q", c.network, a, err, want)
			}
		}
	}
	if _, err := address.NewValidator(address.Networks{Litecoin: "signet"}); err == nil {
		t.Error("LITECOIN_NETWORK=signet accepted; Litecoin has no signet")
	}
	if got := address.Normalize(address.FormatLitecoin, "LTC1QJJSS69L2M5N2AA5GP9GALUL5GYFJGZCVRQ0VKK"); got != "ltc1qjjss69l2m5n2aa5gp9galul5gyfjgzcvrq0vkk" {
		t.Errorf("bech32 Litecoin address normalised to %s", got)
	}
}

// withVersion re-encodes a base58check address under another version byte: Litecoin's
// old P2SH prefixes (which wallets confuse with Bitcoin's), a Tron address off its own.
func withVersion(t *testing.T, addr string, version byte) string {
	t.Helper()
	payload, _, err := base58.CheckDecode(addr)
	if err != nil {
		t.Fatal(err)
	}
	return base58.CheckEncode(payload, version)
}

// Tron: base58check of 0x41 and 20 bytes. TR7NHq... is Tether's TRC-20 contract;
// T9yD14... is the all-zero account.
func TestValidateTron(t *testing.T) {
	t.Parallel()
	v, _ := address.NewValidator(address.Networks{})
	for _, a := range []string{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"} {
		if err := v.Validate(address.FormatTron, a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
		if v.Validate(address.FormatEVM, a) == nil {
			t.Errorf("%s accepted as an EVM address", a)
		}
	}
	for a, want := range map[string]string{
		"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u":                       "checksum",        // last character changed
		"tr7nhqjekqxgtci8q8zy4pl8otszgjlj6t":                       "checksum",        // base58 is case-sensitive
		"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa":                       "starting with T", // valid base58check, Bitcoin's prefix
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed":               "bad encoding",    // an Ethereum address
		withVersion(t, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", 0x42): "starting with T", // wrong version byte
	} {
		if err := v.Validate(address.FormatTron, a); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", a, err, want)
		}
	}
}
