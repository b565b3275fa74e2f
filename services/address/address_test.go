package address_test

import (
	"testing"

	"github.com/paycore/withdrawals/services/address"
)

func TestValidateBitcoinMainnet(t *testing.T) {
	t.Parallel()
	v, err := address.NewValidator("mainnet")
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
	v, err := address.NewValidator("testnet")
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
	if _, err := address.NewValidator("moonnet"); err == nil {
		t.Error("unknown network accepted")
	}
}

func TestValidateEVM(t *testing.T) {
	t.Parallel()
	v, _ := address.NewValidator("mainnet")
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
	v, _ := address.NewValidator("mainnet")
	if err := v.Validate("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"); err == nil {
		t.Error("unknown format accepted")
	}
}
