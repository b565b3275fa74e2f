package chain_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/anvil"
	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/rails/evm"
)

// hotWallet is a fresh key funded with 100 ETH and 1,000,000 TestUSD, on a token of
// its own.
type hotWallet struct {
	key   string // hex
	addr  common.Address
	token common.Address
}

func newHotWallet(t *testing.T) hotWallet {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	w := hotWallet{key: fmt.Sprintf("%x", crypto.FromECDSA(key)), addr: crypto.PubkeyToAddress(key.PublicKey), token: eth.DeployToken(t)}
	eth.SetBalance(t, w.addr, new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18)))
	eth.Mint(t, w.token, w.addr, big.NewInt(1_000_000e6))
	return w
}

// evmRails is the rail as the service configures it for ETH and USDT, three blocks deep.
func evmRails(t *testing.T, w hotWallet, mods ...func(*evm.Config)) func(*gorm.DB) map[string]rails.Provider {
	t.Helper()
	key, err := crypto.HexToECDSA(w.key)
	if err != nil {
		t.Fatal(err)
	}
	return func(db *gorm.DB) map[string]rails.Provider {
		cfg := evm.Config{RPCURL: eth.URL, Key: key, ChainID: anvil.ChainID, Confirmations: 3,
			MaxFeePerGas: big.NewInt(100e9), ReplaceAfter: time.Minute,
			Assets: map[string]evm.Asset{"ETH": {Decimals: 18}, "USDT": {Contract: &w.token, Decimals: 6}}}
		for _, mod := range mods {
			mod(&cfg)
		}
		p, err := evm.New(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]rails.Provider{"ETH": p, "USDT:ethereum": p}
	}
}

func newEVMAddress(t *testing.T) common.Address {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

// received is what an address holds of a token on the node, in the token's units.
func (w hotWallet) received(t *testing.T, token string, addr common.Address) decimal.Decimal {
	t.Helper()
	if token == "ETH" {
		return decimal.NewFromBigInt(eth.Balance(t, addr), -18)
	}
	return decimal.NewFromBigInt(eth.TokenBalance(t, w.token, addr), -6)
}

// ETH and USDT withdrawals of several merchants are each paid by a transaction of
// their own, confirmed at depth, with webhooks; the recipients hold each netAmount.
// A hot wallet without ETH fails the next withdrawal and returns its funds.
func TestEthereumPayoutsThroughTheAPI(t *testing.T) {
	w := newHotWallet(t)
	env := apitest.New(t, func(o *apitest.Options) {
		o.TokenRails = evmRails(t, w)
		o.PollInterval = 100 * time.Millisecond
		o.StartJobs = true
	})
	payouts := map[string]payout{}
	var receivers []*apitest.Receiver
	for i := range 3 {
		mid, key := env.Merchant(fmt.Sprintf("EVM merchant %d", i))
		env.Credit(mid, "ETH", "5")
		env.Credit(mid, "USDT", "1000")
		r := apitest.NewReceiver(t, nil)
		receivers = append(receivers, r)
		env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints", Key: key, Body: map[string]any{"url": r.URL}})
		for _, token := range []string{"ETH", "USDT"} {
			addr := newEVMAddress(t).Hex()
			amount := map[string]string{"ETH": fmt.Sprintf("0.%d5", i+1), "USDT": fmt.Sprintf("%d.5", 10*(i+1))}[token]
			payouts[env.Withdraw(key, token, amount, addr)] = payout{key: key, token: token, address: addr}
		}
	}
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	hashes := map[string]bool{}
	env.WaitFor(30*time.Second, "every withdrawal broadcast", func() bool {
		clear(hashes)
		for id, p := range payouts {
			wd := get(env, p.key, id)
			if wd.TxHash == nil {
				return false
			}
			hashes[*wd.TxHash] = true
		}
		return true
	})
	if len(hashes) != len(payouts) {
		t.Errorf("%d transactions for %d withdrawals, want one each", len(hashes), len(payouts))
	}
	waitPaid(t, env, w, payouts)
	for _, r := range receivers {
		env.WaitFor(20*time.Second, "confirmed webhooks", func() bool {
			n := 0
			for _, req := range r.Requests() {
				if _, event, data := req.Event(); event == "withdrawal.confirmed" && hashes[fmt.Sprint(data["txHash"])] {
					n++
				}
			}
			return n == 2
		})
	}
	testdb.AssertLedgerConsistent(t, env.DB)

	var key string
	for _, p := range payouts {
		key = p.key
	}
	// A USDT transfer the token would revert (a blacklisted recipient) fails before
	// anything is signed, and the merchant gets the amount back.
	blocked := newEVMAddress(t)
	eth.Blacklist(t, w.token, blocked)
	usdtBefore, _ := env.Balance(key, "USDT")
	id := env.Withdraw(key, "USDT", "10", blocked.Hex())
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	env.WaitFor(30*time.Second, "the reverted transfer failed", func() bool { return get(env, key, id).Status == "failed" })
	if wd := get(env, key, id); wd.FailureReason == nil || *wd.FailureReason != evm.ReasonReverted {
		t.Errorf("failure reason %v, want %s", wd.FailureReason, evm.ReasonReverted)
	}
	if after, _ := env.Balance(key, "USDT"); !after.Equal(usdtBefore) {
		t.Errorf("USDT balance %s after the failure, want %s back", after, usdtBefore)
	}

	eth.SetBalance(t, w.addr, big.NewInt(0))
	before, _ := env.Balance(key, "ETH")
	id = env.Withdraw(key, "ETH", "0.1", newEVMAddress(t).Hex())
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	env.WaitFor(30*time.Second, "the withdrawal failed", func() bool { return get(env, key, id).Status == "failed" })
	if wd := get(env, key, id); wd.FailureReason == nil || *wd.FailureReason != evm.ReasonInsufficientFunds {
		t.Errorf("failure reason %v, want %s", wd.FailureReason, evm.ReasonInsufficientFunds)
	}
	if after, pending := env.Balance(key, "ETH"); !after.Equal(before) || !pending.IsZero() {
		t.Errorf("ETH balance %s (pending %s), want %s back", after, pending, before)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// A node on another chain than EVM_CHAIN_ID stops the service at start-up: it never
// signs for the wrong chain.
func TestEthereumWrongChainStopsStartUp(t *testing.T) {
	w := newHotWallet(t)
	_, dbURL := testdb.New(t)
	keyFile := filepath.Join(t.TempDir(), "hot.key")
	if err := os.WriteFile(keyFile, []byte(w.key), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildService(t), "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "HTTP_ADDR=127.0.0.1:0", "METRICS_ADDR=off", "PAYOUT_ETH=evm",
		"EVM_RPC_URL="+eth.URL, "EVM_SIGNER_KEY_FILE="+keyFile, "EVM_CHAIN_ID=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "chain id is 31337, EVM_CHAIN_ID is 1") {
		t.Fatalf("serve against a node on another chain: %v\n%s", err, out)
	}
}

// evmEnv is the service in process, paying ETH and USDT from w.
func evmEnv(t *testing.T, w hotWallet, mods ...func(*apitest.Options)) *apitest.Env {
	t.Helper()
	return apitest.New(t, append([]func(*apitest.Options){func(o *apitest.Options) {
		o.TokenRails = evmRails(t, w)
		o.PollInterval = 100 * time.Millisecond
		o.StartJobs = true
	}}, mods...)...)
}

// payoutsOf creates withdrawals for a new merchant and returns them by id.
func payoutsOf(t *testing.T, env *apitest.Env, name string, tokens ...string) map[string]payout {
	t.Helper()
	mid, key := env.Merchant(name)
	env.Credit(mid, "ETH", "10")
	env.Credit(mid, "USDT", "1000")
	out := map[string]payout{}
	for i, token := range tokens {
		addr := newEVMAddress(t).Hex()
		amount := map[string]string{"ETH": fmt.Sprintf("0.%02d1", i+1), "USDT": fmt.Sprintf("%d.25", 5+i)}[token]
		out[env.Withdraw(key, token, amount, addr)] = payout{key: key, token: token, address: addr}
	}
	return out
}

type payout struct{ key, token, address string }

// waitPaid waits until every payout is confirmed, then checks each recipient holds its
// netAmount on the node.
func waitPaid(t *testing.T, env *apitest.Env, w hotWallet, payouts map[string]payout) {
	t.Helper()
	env.WaitFor(60*time.Second, "every withdrawal confirmed", func() bool {
		for id, p := range payouts {
			if get(env, p.key, id).Status != "confirmed" {
				eth.Mine(t, 1)
				return false
			}
		}
		return true
	})
	for id, p := range payouts {
		wd := get(env, p.key, id)
		if got := w.received(t, p.token, common.HexToAddress(p.address)); !got.Equal(decimal.RequireFromString(wd.NetAmount)) {
			t.Errorf("%s: %s received %s %s, netAmount %s", id, p.address, got, p.token, wd.NetAmount)
		}
	}
}

// Two instances of the service pay from one hot wallet at once: the batches are
// submitted half by one, half by the other, all concurrently. Every payout gets a nonce
// of its own, none is skipped, and every recipient is paid once.
func TestEthereumTwoInstancesShareOneHotWallet(t *testing.T) {
	w := newHotWallet(t)
	manual := func(o *apitest.Options) {
		o.TokenRails = evmRails(t, w)
		o.PollInterval = 100 * time.Millisecond
		o.BatchMax = 1
		o.StartJobs = false
	}
	a := evmEnv(t, w, manual)
	b := apitest.Restart(a, manual)
	payouts := map[string]payout{}
	for i := range 3 {
		maps.Copy(payouts, payoutsOf(t, a, fmt.Sprintf("Shared wallet %d", i), "ETH", "USDT", "USDT", "ETH"))
	}
	ctx := context.Background()
	batches, err := a.App.Payouts.ClaimAll(ctx)
	if err != nil || len(batches) != len(payouts) {
		t.Fatalf("claim: %d batches, %v", len(batches), err)
	}
	var wg sync.WaitGroup
	for i, id := range batches {
		instance := []*apitest.Env{a, b}[i%2]
		wg.Go(func() {
			if err := instance.App.Payouts.Submit(ctx, id); err != nil {
				t.Errorf("submit %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	a.StartJobs()
	b.StartJobs()
	waitPaid(t, a, w, payouts)
	var nonces []int
	a.DB.Raw(`SELECT nonce FROM evm_payments ORDER BY nonce`).Scan(&nonces)
	for i, n := range nonces {
		if n != i {
			t.Fatalf("nonces %v, want 0 to %d without a gap or a repeat", nonces, len(payouts)-1)
		}
	}
	var sent string
	eth.Must(t, &sent, "eth_getTransactionCount", w.addr, "latest")
	if len(nonces) != len(payouts) || sent != fmt.Sprintf("0x%x", len(payouts)) {
		t.Errorf("%d nonces, %s transactions sent, for %d payouts", len(nonces), sent, len(payouts))
	}
	testdb.AssertLedgerConsistent(t, a.DB)
}

// A payout left unmined is replaced with the same nonce and a higher fee; the
// replacement is mined, the withdrawal records its hash, the recipient is paid once.
func TestEthereumStuckPayoutIsReplaced(t *testing.T) {
	w := newHotWallet(t)
	env := evmEnv(t, w, func(o *apitest.Options) {
		o.TokenRails = evmRails(t, w, func(c *evm.Config) { c.ReplaceAfter = 300 * time.Millisecond })
	})
	payouts := payoutsOf(t, env, "Stuck", "ETH")
	eth.Automine(t, false)
	defer eth.Automine(t, true)
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	env.WaitFor(30*time.Second, "a replacement signed", func() bool {
		var n int64
		env.DB.Raw(`SELECT count(*) FROM evm_transactions`).Scan(&n)
		return n >= 2
	})
	eth.Automine(t, true)
	waitPaid(t, env, w, payouts)
	var latest string
	env.DB.Raw(`SELECT hash FROM evm_transactions ORDER BY created_at DESC, max_fee_per_gas DESC LIMIT 1`).Scan(&latest)
	for id, p := range payouts {
		if wd := get(env, p.key, id); wd.TxHash == nil {
			t.Errorf("%s has no txHash", id)
		} else {
			var receipt map[string]any
			eth.Must(t, &receipt, "eth_getTransactionReceipt", *wd.TxHash)
			if receipt == nil {
				t.Errorf("%s records %s, which was not mined (the latest signed is %s)", id, *wd.TxHash, latest)
			}
		}
	}
	var sent string
	eth.Must(t, &sent, "eth_getTransactionCount", w.addr, "latest")
	if sent != "0x1" {
		t.Errorf("the hot wallet sent %s transactions, want one", sent)
	}
}

// A payout taken out of the chain by a reorganisation (anvil's snapshot and revert)
// goes back to waiting; the same signed transaction is broadcast again and settles it.
func TestEthereumReorgBroadcastsTheSameTransaction(t *testing.T) {
	w := newHotWallet(t)
	env := evmEnv(t, w)
	payouts := payoutsOf(t, env, "Reorg", "USDT")
	snap := eth.Snapshot(t)
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	var first string
	env.WaitFor(30*time.Second, "the payout mined", func() bool {
		for id, p := range payouts {
			if wd := get(env, p.key, id); wd.TxHash != nil {
				var receipt map[string]any
				eth.Must(t, &receipt, "eth_getTransactionReceipt", *wd.TxHash)
				first = *wd.TxHash
				return receipt != nil
			}
		}
		return false
	})
	eth.Revert(t, snap)
	waitPaid(t, env, w, payouts)
	for id, p := range payouts {
		if wd := get(env, p.key, id); *wd.TxHash != first {
			t.Errorf("%s settled by %s, want the first transaction %s", id, *wd.TxHash, first)
		}
	}
	var signed int64
	env.DB.Raw(`SELECT count(*) FROM evm_transactions`).Scan(&signed)
	if signed != 1 {
		t.Errorf("%d transactions signed, want 1", signed)
	}
}

// The service is killed right after the node accepted the first signed payout and
// before the answer reached it. Restarted, it broadcasts the stored transactions again:
// one payment per withdrawal, the wallet's nonces used once each.
func TestEthereumKilledAfterBroadcastPaysOnce(t *testing.T) {
	t.Parallel()
	w := newHotWallet(t)
	db, dbURL := testdb.New(t)
	svc := &service{t: t, bin: buildService(t), dbURL: dbURL}
	proxy, sends := killingProxy(t, eth.URL, "eth_sendRawTransaction", svc)
	keyFile := filepath.Join(t.TempDir(), "hot.key")
	if err := os.WriteFile(keyFile, []byte(w.key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc.vars = []string{"PAYOUT_ETH=evm", "PAYOUT_USDT_ETHEREUM=evm", "EVM_RPC_URL=" + proxy.URL, "EVM_SIGNER_KEY_FILE=" + keyFile,
		fmt.Sprintf("EVM_CHAIN_ID=%d", anvil.ChainID), "USDT_ETHEREUM_CONTRACT=" + w.token.Hex(), "EVM_CONFIRMATIONS=2"}
	svc.start()
	env := apitest.Remote(t, svc.url, svc.adminKey())
	payouts := map[string]payout{}
	for i := range 2 {
		mid, key := env.Merchant(fmt.Sprintf("Killed EVM %d", i))
		env.Credit(mid, "USDT", "100")
		for range 2 {
			addr := newEVMAddress(t).Hex()
			payouts[env.Withdraw(key, "USDT", "12.5", addr)] = payout{key: key, token: "USDT", address: addr}
		}
	}
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	svc.waitKilled(60 * time.Second)
	var recorded, signed int64
	db.Raw(`SELECT count(*) FROM withdrawals WHERE tx_hash IS NOT NULL`).Scan(&recorded)
	db.Raw(`SELECT count(*) FROM evm_transactions`).Scan(&signed)
	if recorded != 0 || signed != int64(len(payouts)) || sends.Load() != 1 {
		t.Fatalf("after the kill: %d recorded, %d signed, %d broadcasts; want every payout signed, one broadcast, none recorded", recorded, signed, sends.Load())
	}

	svc.start()
	env.WaitFor(4*time.Minute, "every payout recorded after the restart", func() bool {
		var n int64
		db.Raw(`SELECT count(*) FROM withdrawals WHERE tx_hash IS NOT NULL`).Scan(&n)
		return n == int64(len(payouts))
	})
	waitPaid(t, env, w, payouts)
	var nonce string
	eth.Must(t, &nonce, "eth_getTransactionCount", w.addr, "latest")
	if want := fmt.Sprintf("0x%x", len(payouts)); nonce != want {
		t.Errorf("the hot wallet sent %s transactions, want %s", nonce, want)
	}
	if db.Raw(`SELECT count(*) FROM evm_transactions`).Scan(&signed); signed != int64(len(payouts)) {
		t.Errorf("%d transactions signed, want %d", signed, len(payouts))
	}
	testdb.AssertLedgerConsistent(t, db)
	svc.stop()
}
