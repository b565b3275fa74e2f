package chain_test

import (
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
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
func evmRails(t *testing.T, w hotWallet) func(*gorm.DB) map[string]rails.Provider {
	t.Helper()
	key, err := crypto.HexToECDSA(w.key)
	if err != nil {
		t.Fatal(err)
	}
	return func(db *gorm.DB) map[string]rails.Provider {
		p, err := evm.New(db, evm.Config{RPCURL: eth.URL, Key: key, ChainID: anvil.ChainID, Confirmations: 3,
			MaxFeePerGas: big.NewInt(100e9), ReplaceAfter: time.Minute,
			Assets: map[string]evm.Asset{"ETH": {Decimals: 18}, "USDT": {Contract: &w.token, Decimals: 6}}})
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
	type payout struct{ key, token, address string }
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
	eth.Mine(t, 3)
	env.WaitFor(30*time.Second, "every withdrawal confirmed", func() bool {
		for id, p := range payouts {
			if get(env, p.key, id).Status != "confirmed" {
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

	eth.SetBalance(t, w.addr, big.NewInt(0))
	var key string
	for _, p := range payouts {
		key = p.key
	}
	before, _ := env.Balance(key, "ETH")
	id := env.Withdraw(key, "ETH", "0.1", newEVMAddress(t).Hex())
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
	type payout struct{ key, token, address string }
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
	eth.Mine(t, 2)
	env.WaitFor(60*time.Second, "every withdrawal confirmed", func() bool {
		for id, p := range payouts {
			if get(env, p.key, id).Status != "confirmed" {
				return false
			}
		}
		return true
	})
	for id, p := range payouts {
		wd := get(env, p.key, id)
		if got := w.received(t, p.token, common.HexToAddress(p.address)); !got.Equal(decimal.RequireFromString(wd.NetAmount)) {
			t.Errorf("%s: received %s, netAmount %s", p.address, got, wd.NetAmount)
		}
	}
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
