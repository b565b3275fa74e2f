package evm_test

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/anvil"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/rails/evm"
)

// Every test here runs, one after another, against one real anvil started for the
// package; each has its own hot wallet and database.
var node *anvil.Node

func TestMain(m *testing.M) {
	var err error
	if node, err = anvil.Launch(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	code := m.Run()
	node.Stop()
	os.Exit(code)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	db     *gorm.DB
	token  common.Address
	clock  *clock
	cfg    evm.Config
	sender common.Address
}

var gwei = big.NewInt(1e9)

// newFixture is a funded hot wallet (100 ETH, 1,000,000 TUSD) with a fresh database.
func newFixture(t *testing.T, mod func(*evm.Config)) *fixture {
	t.Helper()
	db, _ := testdb.New(t)
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, token: node.DeployToken(t), clock: &clock{now: time.Now()}, sender: crypto.PubkeyToAddress(key.PublicKey)}
	f.cfg = evm.Config{RPCURL: node.URL, Key: key, ChainID: anvil.ChainID, Confirmations: 3, MaxFeePerGas: new(big.Int).Mul(big.NewInt(100), gwei),
		ReplaceAfter: time.Minute, Clock: f.clock.Now,
		Assets: map[string]evm.Asset{"ETH": {Decimals: 18}, "USDT": {Contract: &f.token, Decimals: 6}}}
	if mod != nil {
		mod(&f.cfg)
	}
	node.SetBalance(t, f.sender, new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18)))
	node.Mint(t, f.token, f.sender, big.NewInt(1_000_000e6))
	return f
}

func (f *fixture) rail(t *testing.T) *evm.Provider {
	t.Helper()
	p, err := evm.New(f.db, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newAddress(t *testing.T) common.Address {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

func batch(id, token string, items ...rails.Item) rails.Batch {
	return rails.Batch{ID: id, Token: token, Network: "ethereum", Items: items, Since: time.Now()}
}

func item(id string, to common.Address, amount string) rails.Item {
	return rails.Item{WithdrawalID: id, Address: to.Hex(), Amount: decimal.RequireFromString(amount)}
}

func byID(results []rails.ItemResult) map[string]rails.ItemResult {
	out := map[string]rails.ItemResult{}
	for _, r := range results {
		out[r.WithdrawalID] = r
	}
	return out
}

func units(amount string, decimals int32) *big.Int {
	return decimal.RequireFromString(amount).Shift(decimals).BigInt()
}

func TestPaysETHAndTokensOnceAndConfirmsAtDepth(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	rail := f.rail(t)
	a, b, c := newAddress(t), newAddress(t), newAddress(t)
	eth := batch("bat_eth", "ETH", item("wd_e1", a, "1.5"), item("wd_e2", b, "0.000000000000000001"))
	usdt := batch("bat_usdt", "USDT", item("wd_u1", a, "250.123456"), item("wd_u2", c, "2"))
	hashes := map[string]string{}
	for _, bt := range []rails.Batch{eth, usdt} {
		_, results, err := rail.Submit(ctx, bt)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Status != rails.ItemAccepted || r.TxHash == "" || hashes[r.TxHash] != "" {
				t.Fatalf("%s: %+v, want accepted with a transaction of its own", bt.ID, r)
			}
			hashes[r.TxHash] = r.WithdrawalID
		}
		// Submitting again (a lost answer, a restart: another provider) pays nothing new.
		_, again, err := f.rail(t).Submit(ctx, bt)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range again {
			if hashes[r.TxHash] != r.WithdrawalID {
				t.Errorf("resubmitted %s: %+v, not its first transaction", bt.ID, r)
			}
		}
	}
	if got := node.Balance(t, a); got.Cmp(units("1.5", 18)) != 0 {
		t.Errorf("a received %s wei", got)
	}
	if got := node.Balance(t, b); got.Cmp(big.NewInt(1)) != 0 {
		t.Errorf("b received %s wei", got)
	}
	if got := node.TokenBalance(t, f.token, a); got.Cmp(units("250.123456", 6)) != 0 {
		t.Errorf("a received %s TUSD units", got)
	}
	if got := node.TokenBalance(t, f.token, c); got.Cmp(units("2", 6)) != 0 {
		t.Errorf("c received %s TUSD units", got)
	}
	// The last transaction is one block deep: not final at 3 confirmations.
	results, err := rail.Status(ctx, usdt)
	if err != nil {
		t.Fatal(err)
	}
	if r := byID(results)["wd_u2"]; r.Status != rails.ItemAccepted {
		t.Errorf("at depth 1: %+v", r)
	}
	node.Mine(t, 2)
	for _, bt := range []rails.Batch{eth, usdt} {
		results, err := rail.Status(ctx, bt)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Status != rails.ItemConfirmed || hashes[r.TxHash] != r.WithdrawalID {
				t.Errorf("at depth 3: %+v", r)
			}
		}
	}
	var nonces []int64
	f.db.Raw(`SELECT nonce FROM evm_payments ORDER BY nonce`).Scan(&nonces)
	if fmt.Sprint(nonces) != "[0 1 2 3]" {
		t.Errorf("nonces %v, want 0 to 3", nonces)
	}
}

func TestDefiniteFailuresSignNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	blocked, fine := newAddress(t), newAddress(t)
	node.Blacklist(t, f.token, blocked)
	_, results, err := f.rail(t).Submit(ctx, batch("bat_bl", "USDT", item("wd_bl", blocked, "5"), item("wd_ok", fine, "5")))
	if err != nil {
		t.Fatal(err)
	}
	got := byID(results)
	if got["wd_bl"].Status != rails.ItemFailed || got["wd_bl"].Reason != evm.ReasonReverted || got["wd_ok"].Status != rails.ItemAccepted {
		t.Errorf("blacklisted recipient: %+v", results)
	}
	cases := []struct {
		name, token, amount string
		mod                 func(*evm.Config)
		reason              string
	}{
		{"more ETH than the wallet holds", "ETH", "1000", nil, evm.ReasonInsufficientFunds},
		{"more tokens than the wallet holds", "USDT", "2000000", nil, evm.ReasonInsufficientFunds},
		{"base fee above the cap", "ETH", "1", func(c *evm.Config) { c.MaxFeePerGas = big.NewInt(1) }, evm.ReasonFeeAboveCap},
	}
	for i, c := range cases {
		g := *f
		if c.mod != nil {
			c.mod(&g.cfg)
		}
		to := newAddress(t)
		_, results, err := g.rail(t).Submit(ctx, batch(fmt.Sprintf("bat_f%d", i), c.token, item(fmt.Sprintf("wd_f%d", i), to, c.amount)))
		if err != nil || len(results) != 1 || results[0].Status != rails.ItemFailed || results[0].Reason != c.reason {
			t.Errorf("%s: %+v %v, want failed %s", c.name, results, err, c.reason)
		}
	}
	var signed int64
	f.db.Raw(`SELECT count(*) FROM evm_payments`).Scan(&signed)
	if signed != 1 {
		t.Errorf("%d payments signed, want only wd_ok's", signed)
	}
}

// A transfer that reverts on chain (the recipient blacklisted after the transaction
// was signed) is a definite failure once it is deep enough.
func TestRevertedOnChainFailsAtDepth(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	rail := f.rail(t)
	to := newAddress(t)
	node.Automine(t, false)
	defer node.Automine(t, true)
	bt := batch("bat_rev", "USDT", item("wd_rev", to, "7"))
	if _, _, err := rail.Submit(ctx, bt); err != nil {
		t.Fatal(err)
	}
	node.BlacklistAhead(t, f.token, to)
	node.Mine(t, 1)
	results, err := rail.Status(ctx, bt)
	if err != nil || results[0].Status != rails.ItemAccepted {
		t.Fatalf("reverted at depth 1: %+v %v, want still accepted", results, err)
	}
	node.Mine(t, 2)
	results, err = rail.Status(ctx, bt)
	if err != nil || results[0].Status != rails.ItemFailed || results[0].Reason != evm.ReasonReverted {
		t.Fatalf("reverted at depth 3: %+v %v", results, err)
	}
	if got := node.TokenBalance(t, f.token, to); got.Sign() != 0 {
		t.Errorf("received %s", got)
	}
}

// A transaction left unmined is replaced with the same nonce and a higher fee; the
// replacement is mined and the recipient is paid once. Past the cap, it stays stuck.
func TestStuckTransactionIsReplacedAndPaysOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	rail := f.rail(t)
	to := newAddress(t)
	node.Automine(t, false)
	defer node.Automine(t, true)
	bt := batch("bat_stuck", "ETH", item("wd_stuck", to, "0.25"))
	_, results, err := rail.Submit(ctx, bt)
	if err != nil {
		t.Fatal(err)
	}
	first := results[0].TxHash
	if results, err = rail.Status(ctx, bt); err != nil || results[0].TxHash != first {
		t.Fatalf("before ReplaceAfter: %+v %v", results, err)
	}
	f.clock.Add(2 * time.Minute)
	results, err = rail.Status(ctx, bt)
	if err != nil || results[0].Status != rails.ItemAccepted || results[0].TxHash == first {
		t.Fatalf("after ReplaceAfter: %+v %v, want a replacement", results, err)
	}
	replacement := results[0].TxHash
	node.Mine(t, 3)
	results, err = rail.Status(ctx, bt)
	if err != nil || results[0].Status != rails.ItemConfirmed || results[0].TxHash != replacement {
		t.Fatalf("mined: %+v %v, want confirmed by the replacement %s", results, err, replacement)
	}
	if got := node.Balance(t, to); got.Cmp(units("0.25", 18)) != 0 {
		t.Errorf("received %s wei, want 0.25 ETH once", got)
	}
	var fees []string
	f.db.Raw(`SELECT max_fee_per_gas::text FROM evm_transactions ORDER BY created_at`).Scan(&fees)
	if len(fees) != 2 {
		t.Errorf("stored transactions' fees %v, want the first and its replacement", fees)
	}

	// With the cap reached, a stuck transaction is an error: the batch waits for an admin.
	g := *f
	g.cfg.MaxFeePerGas = new(big.Int).Mul(big.NewInt(3), gwei)
	capped := g.rail(t)
	bt = batch("bat_capped", "ETH", item("wd_capped", newAddress(t), "0.1"))
	if _, _, err := capped.Submit(ctx, bt); err != nil {
		t.Fatal(err)
	}
	for range 12 {
		f.clock.Add(2 * time.Minute)
		if _, err = capped.Status(ctx, bt); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "cap") {
		t.Errorf("replacements past the cap: %v, want an error naming the cap", err)
	}
	node.Mine(t, 1)
}

// A payout taken out of the chain (anvil's snapshot and revert stand for a reorg)
// goes back to waiting, and the stored transaction is broadcast again: same hash.
func TestReorgRebroadcastsTheStoredTransaction(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	rail := f.rail(t)
	to := newAddress(t)
	snap := node.Snapshot(t)
	bt := batch("bat_reorg", "USDT", item("wd_reorg", to, "42"))
	_, results, err := rail.Submit(ctx, bt)
	if err != nil {
		t.Fatal(err)
	}
	hash := results[0].TxHash
	node.Mine(t, 1)
	node.Revert(t, snap)
	if got := node.TokenBalance(t, f.token, to); got.Sign() != 0 {
		t.Fatalf("after the revert the recipient holds %s", got)
	}
	// The revert also took the token and the wallet's funds: restore them as the
	// reorganised chain would have them.
	node.SetBalance(t, f.sender, new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18)))
	results, err = rail.Status(ctx, bt)
	if err != nil || results[0].Status != rails.ItemAccepted || results[0].TxHash != hash {
		t.Fatalf("after the reorg: %+v %v, want accepted with the same hash", results, err)
	}
	node.Mine(t, 3)
	results, err = rail.Status(ctx, bt)
	if err != nil || results[0].Status != rails.ItemConfirmed || results[0].TxHash != hash {
		t.Fatalf("mined again: %+v %v", results, err)
	}
	if got := node.TokenBalance(t, f.token, to); got.Cmp(units("42", 6)) != 0 {
		t.Errorf("received %s units, want 42 TUSD once", got)
	}
}

// Several instances paying at once from one wallet never share or skip a nonce.
func TestConcurrentBatchesNeverReuseANonce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	instances := []*evm.Provider{f.rail(t), f.rail(t)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			bt := batch(fmt.Sprintf("bat_c%d", i), []string{"ETH", "USDT"}[i%2])
			for j := range 3 {
				bt.Items = append(bt.Items, item(fmt.Sprintf("wd_c%d_%d", i, j), newAddress(t), "0.01"))
			}
			if _, _, err := instances[i%2].Submit(ctx, bt); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var nonces []int64
	f.db.Raw(`SELECT nonce FROM evm_payments ORDER BY nonce`).Scan(&nonces)
	for i, n := range nonces {
		if n != int64(i) {
			t.Fatalf("nonces %v, want 0 to 23 without a gap or a repeat", nonces)
		}
	}
	if len(nonces) != 24 {
		t.Fatalf("%d payments, want 24", len(nonces))
	}
	// anvil mines each transaction as it arrives, but answers the broadcast before the
	// block exists: the last ones may still be mining.
	var mined string
	for deadline := time.Now().Add(10 * time.Second); ; {
		node.Must(t, &mined, "eth_getTransactionCount", f.sender, "latest")
		if mined == "0x18" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if mined != "0x18" {
		t.Errorf("the wallet's mined nonce count is %s, want 24", mined)
	}
}

func TestCheckComparesTheChainID(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.rail(t).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.cfg.ChainID = 1
	if err := f.rail(t).Check(context.Background()); err == nil || !strings.Contains(err.Error(), "31337") {
		t.Errorf("a node on another chain: %v", err)
	}
}
