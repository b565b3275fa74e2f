package bitcoind_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/regtest"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/rails/bitcoind"
)

// Every test here runs, one after another, against a real litecoind -regtest started
// for the package.
var node *regtest.Node

func TestMain(m *testing.M) {
	var err error
	if node, err = regtest.Launch(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	code := m.Run()
	node.Stop()
	os.Exit(code)
}

func newRail(t *testing.T, n *regtest.Node, mod func(*bitcoind.Config)) *bitcoind.Provider {
	t.Helper()
	cfg := bitcoind.Config{URL: n.WalletURL(regtest.Payer), Chain: "regtest", Confirmations: 2,
		MaxFeeRate: decimal.NewFromInt(100), FallbackFeeRate: decimal.NewFromInt(20)}
	if mod != nil {
		mod(&cfg)
	}
	p, err := bitcoind.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func batch(id string, items ...rails.Item) rails.Batch {
	return rails.Batch{ID: id, Token: "LTC", Network: "litecoin", Items: items, Since: time.Now()}
}

func item(id, addr, amount string) rails.Item {
	return rails.Item{WithdrawalID: id, Address: addr, Amount: decimal.RequireFromString(amount)}
}

func received(t *testing.T, n *regtest.Node, addr string) decimal.Decimal {
	t.Helper()
	var amount decimal.Decimal
	n.Must(t, regtest.Recipient, &amount, "getreceivedbyaddress", addr, 0)
	return amount
}

func statuses(results []rails.ItemResult) map[string]rails.ItemResult {
	out := map[string]rails.ItemResult{}
	for _, r := range results {
		out[r.WithdrawalID] = r
	}
	return out
}

func TestPaysEachRecipientOnceAndConfirmsAtDepth(t *testing.T) {
	ctx := context.Background()
	rail := newRail(t, node, nil)
	a, b, c := node.NewAddress(t, "bech32"), node.NewAddress(t, "legacy"), node.NewAddress(t, "p2sh-segwit")
	bt := batch("bat_pays", item("wd_1", a, "0.1"), item("wd_2", b, "0.25"), item("wd_3", c, "0.00012345"), item("wd_4", a, "0.2"))
	txid, results, err := rail.Submit(ctx, bt)
	if err != nil {
		t.Fatal(err)
	}
	if txid == "" || len(results) != 4 {
		t.Fatalf("submit: txid %q, results %+v", txid, results)
	}
	for _, r := range results {
		if r.Status != rails.ItemAccepted || r.TxHash != txid {
			t.Errorf("%s: %s %s, want accepted in %s", r.WithdrawalID, r.Status, r.TxHash, txid)
		}
	}
	// A retry (a lost answer, a restart: a new provider) finds the transaction.
	again, results, err := newRail(t, node, nil).Submit(ctx, bt)
	if err != nil || again != txid || len(results) != 4 {
		t.Fatalf("resubmit: %q %+v %v, want the same transaction %s", again, results, err, txid)
	}
	bt.Reference = txid
	for depth, want := range []rails.ItemStatus{rails.ItemAccepted, rails.ItemAccepted, rails.ItemConfirmed} {
		if depth > 0 {
			node.Mine(t, 1)
		}
		results, err := rail.Status(ctx, bt)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Status != want {
				t.Errorf("depth %d: %s is %s, want %s", depth, r.WithdrawalID, r.Status, want)
			}
		}
	}
	for addr, want := range map[string]string{a: "0.3", b: "0.25", c: "0.00012345"} {
		if got := received(t, node, addr); !got.Equal(decimal.RequireFromString(want)) {
			t.Errorf("%s received %s, want %s", addr, got, want)
		}
	}
}

func TestNodeRefusalsAreDefiniteAndSendNothing(t *testing.T) {
	ctx := context.Background()
	good := node.NewAddress(t, "bech32")
	// The node refuses an address of another network alone; the rest is paid.
	txid, results, err := newRail(t, node, nil).Submit(ctx, batch("bat_badaddr",
		item("wd_bad", "ltc1qjjss69l2m5n2aa5gp9galul5gyfjgzcvrq0vkk", "0.1"), item("wd_good", good, "0.1")))
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(results)
	if got["wd_bad"].Status != rails.ItemFailed || got["wd_bad"].Reason != bitcoind.ReasonInvalidAddress || got["wd_good"].Status != rails.ItemAccepted || txid == "" {
		t.Fatalf("results %+v", results)
	}
	cases := []struct {
		name   string
		amount string
		mod    func(*bitcoind.Config)
		reason string
	}{
		{"more than the wallet holds", "100000", nil, bitcoind.ReasonInsufficientFunds},
		{"fee rate above the cap", "0.1", func(c *bitcoind.Config) { c.MaxFeeRate = decimal.RequireFromString("5") }, bitcoind.ReasonFeeAboveCap},
		{"below the node's dust limit", "0.00001", nil, bitcoind.ReasonAmountTooSmall},
	}
	for i, c := range cases {
		addr := node.NewAddress(t, "legacy")
		txid, results, err := newRail(t, node, c.mod).Submit(ctx, batch(fmt.Sprintf("bat_refused_%d", i), item("wd_1", addr, c.amount)))
		if err != nil || txid != "" || len(results) != 1 || results[0].Status != rails.ItemFailed || results[0].Reason != c.reason {
			t.Errorf("%s: %q %+v %v, want failed %s", c.name, txid, results, err, c.reason)
		}
		if got := received(t, node, addr); !got.IsZero() {
			t.Errorf("%s: %s received %s", c.name, addr, got)
		}
	}
}

// A transaction counted, then taken out of the chain by a reorganisation, goes back to
// waiting; it is mined again, and the recipient is paid once.
func TestReorgGoesBackToWaiting(t *testing.T) {
	ctx := context.Background()
	rail := newRail(t, node, nil)
	addr := node.NewAddress(t, "bech32")
	bt := batch("bat_reorg", item("wd_1", addr, "0.5"))
	txid, _, err := rail.Submit(ctx, bt)
	if err != nil {
		t.Fatal(err)
	}
	bt.Reference = txid
	mined := node.Mine(t, 1)
	if r, err := rail.Status(ctx, bt); err != nil || r[0].Status != rails.ItemAccepted {
		t.Fatalf("one confirmation: %+v %v", r, err)
	}
	node.Must(t, "", nil, "invalidateblock", mined[0])
	var conf struct {
		Confirmations int `json:"confirmations"`
	}
	node.Must(t, regtest.Payer, &conf, "gettransaction", txid)
	if conf.Confirmations != 0 {
		t.Fatalf("after invalidateblock the transaction has %d confirmations", conf.Confirmations)
	}
	if r, err := rail.Status(ctx, bt); err != nil || r[0].Status != rails.ItemAccepted {
		t.Fatalf("after the reorg: %+v %v, want accepted (back in the mempool)", r, err)
	}
	if again, _, err := rail.Submit(ctx, bt); err != nil || again != txid {
		t.Fatalf("resubmit after the reorg: %q %v, want %s", again, err, txid)
	}
	node.Mine(t, 2)
	if r, err := rail.Status(ctx, bt); err != nil || r[0].Status != rails.ItemConfirmed {
		t.Fatalf("after two new blocks: %+v %v", r, err)
	}
	if got := received(t, node, addr); !got.Equal(decimal.RequireFromString("0.5")) {
		t.Errorf("received %s, want 0.5", got)
	}
}

// A transaction beaten by a conflicting one will never confirm, but the rail does not
// call that a failure: the outcome is for an admin.
func TestConflictedTransactionIsAmbiguous(t *testing.T) {
	ctx := context.Background()
	rail := newRail(t, node, nil)
	bt := batch("bat_conflict", item("wd_1", node.NewAddress(t, "bech32"), "0.3"))
	txid, _, err := rail.Submit(ctx, bt)
	if err != nil {
		t.Fatal(err)
	}
	bt.Reference = txid
	node.DoubleSpend(t, txid)
	_, err = rail.Status(ctx, bt)
	if err == nil || !strings.Contains(err.Error(), "conflicts") {
		t.Fatalf("status of a conflicted transaction: %v, want an error saying it conflicts", err)
	}
}

func TestUnreachableNodeIsAmbiguousAndKeepsCredentialsSecret(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rail, err := bitcoind.New(bitcoind.Config{URL: "http://alice:s3cret-pass@127.0.0.1:1/wallet/payer", Confirmations: 1, MaxFeeRate: decimal.NewFromInt(10)})
	if err != nil {
		t.Fatal(err)
	}
	_, results, err := rail.Submit(ctx, batch("bat_down", item("wd_1", node.NewAddress(t, "bech32"), "0.1")))
	if err == nil || len(results) != 0 {
		t.Fatalf("submit to a closed port: %+v %v, want an error and no result", results, err)
	}
	errs := []error{err, rail.Check(ctx)}
	wrong := newRail(t, node, func(c *bitcoind.Config) { c.URL = strings.Replace(c.URL, node.Password(), "wrong", 1) })
	_, _, err = wrong.Submit(ctx, batch("bat_auth", item("wd_1", node.NewAddress(t, "bech32"), "0.1")))
	errs = append(errs, err, wrong.Check(ctx))
	for _, err := range errs {
		if err == nil {
			t.Fatal("no error from a node that cannot be used")
		}
		if msg := err.Error(); strings.Contains(msg, "s3cret") || strings.Contains(msg, node.Password()) || strings.Contains(msg, "wrong") {
			t.Errorf("error shows credentials: %s", msg)
		}
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	if err := newRail(t, node, nil).Check(ctx); err != nil {
		t.Fatalf("check of a ready node: %v", err)
	}
	err := newRail(t, node, func(c *bitcoind.Config) { c.Chain = "main" }).Check(ctx)
	if err == nil || !strings.Contains(err.Error(), `"regtest"`) {
		t.Errorf("check of a node on another chain: %v", err)
	}
	err = newRail(t, node, func(c *bitcoind.Config) { c.URL = strings.TrimSuffix(c.URL, "/wallet/payer") + "/wallet/nope" }).Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "no wallet loaded") {
		t.Errorf("check of a wallet that is not loaded: %v", err)
	}
}
