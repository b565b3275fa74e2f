package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runExit runs the program as main would and returns what main would exit with.
func runExit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	var exit exitCode
	switch {
	case errors.As(err, &exit):
		code = int(exit)
	case err != nil:
		code = 1
	}
	return code, out.String(), errOut.String()
}

// Help and usage errors never reach the database: DATABASE_URL points where nothing
// listens, so a command that tried would fail with 1 instead.
func TestHelpAndUsageErrorsNeedNoDatabase(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // a substring of stdout ("" for none expected)
		stderr string
	}{
		{[]string{"help"}, 0, "withdrawals serve", ""},
		{[]string{"--help"}, 0, "withdrawals migrate", ""},
		{[]string{"-h"}, 0, "withdrawals admin create-key", ""},
		{[]string{"serve", "--help"}, 0, "DATABASE_URL", ""},
		{[]string{"serve", "-h"}, 0, "METRICS_ADDR", ""},
		{[]string{"migrate", "--help"}, 0, "Usage: withdrawals migrate", ""},
		{[]string{"admin", "--help"}, 0, "create-key", ""},
		{[]string{"admin", "create-key", "--help"}, 0, "-name", ""},
		{[]string{"admin", "reconcile", "--help"}, 0, "Usage: withdrawals admin reconcile", ""},
		{[]string{"version"}, 0, "withdrawals ", ""},
		{[]string{}, 2, "", "Usage:"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"serve", "--port", "1"}, 2, "", "flag provided but not defined: -port"},
		{[]string{"migrate", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"admin", "create-key", "--nmae", "x"}, 2, "", "flag provided but not defined: -nmae"},
		{[]string{"admin", "frobnicate"}, 2, "", "frobnicate"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runExit(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if tc.stdout != "" && !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout)
			}
			if tc.stderr != "" && !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
			if tc.code == 0 && stderr != "" {
				t.Errorf("stderr not empty on success:\n%s", stderr)
			}
		})
	}
}

// The process itself exits with the codes run reports (main maps them), and version
// names the build.
func TestBinaryExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "withdrawals")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{{[]string{"--help"}, 0}, {[]string{"serve", "--help"}, 0}, {[]string{"serve", "--bogus"}, 2}, {[]string{"version"}, 0}} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(os.Environ(), "DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
		out, err := cmd.CombinedOutput()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.code, out)
		}
		if tc.args[0] == "version" && !strings.HasPrefix(string(out), "withdrawals ") {
			t.Errorf("version: %q", out)
		}
	}
}

// A token's rail is configured as a whole: the node URL is required with bitcoind, fee
// rates are numbers, and the networks are the ones the address checks know.
func TestChainRailSettings(t *testing.T) {
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	c, err := loadConfig(env(map[string]string{"PAYOUT_LTC": "bitcoind", "BITCOIND_LTC_RPC_URL": "http://u:p@127.0.0.1:9332/wallet/hot",
		"LITECOIN_NETWORK": "testnet", "BITCOIND_LTC_FALLBACK_FEE_RATE": "12.5"}))
	if err != nil {
		t.Fatal(err)
	}
	ltc, btc := c.Chains["LTC"], c.Chains["BTC"]
	if ltc.Provider != "bitcoind" || ltc.Confirmations != 6 || ltc.MaxFeeRate.String() != "100" || ltc.FallbackFeeRate.String() != "12.5" ||
		btc.Provider != "sandbox" || btc.Confirmations != 3 || !btc.FallbackFeeRate.IsZero() {
		t.Errorf("rails: LTC %+v BTC %+v", ltc, btc)
	}
	rails, err := chainRails(c)
	if err != nil || len(rails) != 1 || rails["LTC"].Name() != "bitcoind" {
		t.Errorf("chainRails: %v %v", rails, err)
	}
	for msg, vars := range map[string]map[string]string{
		"PAYOUT_BTC=bitcoind needs BITCOIND_BTC_RPC_URL":       {"PAYOUT_BTC": "bitcoind"},
		`PAYOUT_LTC="lightning" is not one of`:                 {"PAYOUT_LTC": "lightning"},
		`BITCOIND_LTC_MAX_FEE_RATE="-1" is not a non-negative`: {"BITCOIND_LTC_MAX_FEE_RATE": "-1"},
		`LITECOIN_NETWORK="signet" is not one of`:              {"LITECOIN_NETWORK": "signet"},
	} {
		if _, err := loadConfig(env(vars)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%v: %v, want an error saying %q", vars, err, msg)
		}
	}
	if _, err := chainRails(config{Chains: map[string]*chainRail{"LTC": {Provider: "bitcoind", URL: "ftp://u:secret@x", Confirmations: 1, MaxFeeRate: ltc.MaxFeeRate}}}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad URL: %v", err)
	}
}

// The hot wallet's key file must be the owner's alone and hold a key; the errors never
// show what the file holds.
func TestReadSignerKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is filtered by the umask
			t.Fatal(err)
		}
		return path
	}
	const key = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
	good := write("good.key", "0x"+key+"\n", 0o600)
	if k, err := readSignerKey(good); err != nil || k == nil {
		t.Fatalf("an owner-only key file: %v", err)
	}
	for path, want := range map[string]string{
		write("shared.key", key, 0o644):                 "chmod 600",
		write("garbage.key", "not-a-key-s3cret", 0o600): "does not hold a hex private key",
		filepath.Join(dir, "missing.key"):               "no such file",
	} {
		_, err := readSignerKey(path)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v, want an error saying %q and nothing of the file", path, err, want)
		}
	}
}
