// Package regtest starts a throwaway Litecoin Core node in regtest mode for the chain
// tests: its own data directory and ports on 127.0.0.1, a funded payer wallet, and a
// recipient wallet; stopped when the test ends. litecoind must be installed (Debian's
// litecoind package; `make test` and .ci/run install it): without it the tests fail,
// saying so, rather than skip.
package regtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/jsonrpc"
)

// Node is a running litecoind -regtest.
type Node struct {
	RPCPort  int
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	user     string
	password string
}

const (
	// Payer is the wallet the service pays from; Recipient receives.
	Payer     = "payer"
	Recipient = "recipient"
)

// Binary is the litecoind to run: LITECOIND when set, else the one on PATH.
func Binary() (string, error) {
	if b := os.Getenv("LITECOIND"); b != "" {
		return b, nil
	}
	b, err := exec.LookPath("litecoind")
	if err != nil {
		return "", errors.New("litecoind is not installed: the chain tests need Litecoin Core (apt-get install litecoind; `make test` installs it)")
	}
	return b, nil
}

// Start runs a node for one test (Launch), stopped when the test ends.
func Start(t testing.TB) *Node {
	t.Helper()
	n, err := Launch()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// Launch runs a node with the payer wallet funded by mining 101 blocks (one spendable
// coinbase). The caller stops it (Stop). Every wait is bounded.
func Launch() (*Node, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "litecoind-regtest-")
	if err != nil {
		return nil, err
	}
	n := &Node{RPCPort: freePort(), dir: dir, user: "regtest", password: "regtest-" + strconv.Itoa(os.Getpid()), exited: make(chan struct{})}
	n.cmd = exec.Command(bin, "-regtest", "-datadir="+n.dir, "-server", "-listen=0", "-dnsseed=0", "-upnp=0",
		"-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", "-rpcport="+strconv.Itoa(n.RPCPort), "-port="+strconv.Itoa(freePort()),
		"-rpcuser="+n.user, "-rpcpassword="+n.password, "-fallbackfee=0.0002", "-acceptnonstdtxn=0",
		"-printtoconsole=0", "-keypool=10")
	var stderr bytes.Buffer
	n.cmd.Stderr = &stderr
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start litecoind: %w", err)
	}
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
	fail := func(err error) (*Node, error) { n.Stop(); return nil, err }
	deadline := time.Now().Add(60 * time.Second)
	for n.Call(context.Background(), "", nil, "getblockchaininfo") != nil {
		select {
		case <-n.exited:
			return fail(fmt.Errorf("litecoind exited at start: %s", stderr.String()))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(errors.New("litecoind did not answer RPC within 60s"))
		}
	}
	for _, w := range []string{Payer, Recipient} {
		if err := n.Call(context.Background(), "", nil, "createwallet", w); err != nil {
			return fail(err)
		}
	}
	if _, err := n.Generate(101); err != nil {
		return fail(err)
	}
	return n, nil
}

// Generate adds blocks paying the payer wallet, and returns their hashes.
func (n *Node) Generate(blocks int) ([]string, error) {
	var addr string
	if err := n.Call(context.Background(), Payer, &addr, "getnewaddress"); err != nil {
		return nil, err
	}
	var hashes []string
	err := n.Call(context.Background(), "", &hashes, "generatetoaddress", blocks, addr)
	return hashes, err
}

// WalletURL is the RPC URL of a wallet, credentials included.
func (n *Node) WalletURL(wallet string) string {
	return fmt.Sprintf("http://%s:%s@127.0.0.1:%d/wallet/%s", n.user, n.password, n.RPCPort, wallet)
}

// Password is the RPC password, for tests that check it never leaks.
func (n *Node) Password() string { return n.password }

// Call runs one RPC on a wallet ("" for the node) and decodes the result into out.
func (n *Node) Call(ctx context.Context, wallet string, out any, method string, params ...any) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/", n.RPCPort)
	if wallet != "" {
		url += "wallet/" + wallet
	}
	return jsonrpc.Call(ctx, url, n.user, n.password, out, method, params...)
}

// Must is Call, failing the test on an error.
func (n *Node) Must(t testing.TB, wallet string, out any, method string, params ...any) {
	t.Helper()
	if err := n.Call(context.Background(), wallet, out, method, params...); err != nil {
		t.Fatal(err)
	}
}

// Mine is Generate, failing the test on an error.
func (n *Node) Mine(t testing.TB, blocks int) []string {
	t.Helper()
	hashes, err := n.Generate(blocks)
	if err != nil {
		t.Fatal(err)
	}
	return hashes
}

// DoubleSpend mines a block holding a transaction that spends the inputs of the payer
// wallet's transaction txid back to the payer: txid can then never confirm (the wallet
// reports it with negative confirmations).
func (n *Node) DoubleSpend(t testing.TB, txid string) {
	t.Helper()
	decode := func(wallet, txid string, out any) {
		var wtx struct {
			Hex string `json:"hex"`
		}
		n.Must(t, wallet, &wtx, "gettransaction", txid)
		n.Must(t, "", out, "decoderawtransaction", wtx.Hex)
	}
	var tx struct {
		Vin []struct {
			TxID string `json:"txid"`
			Vout int    `json:"vout"`
		} `json:"vin"`
	}
	decode(Payer, txid, &tx)
	var total decimal.Decimal
	inputs := make([]map[string]any, len(tx.Vin))
	for i, in := range tx.Vin {
		inputs[i] = map[string]any{"txid": in.TxID, "vout": in.Vout}
		var prev struct {
			Vout []struct {
				Value decimal.Decimal `json:"value"`
			} `json:"vout"`
		}
		decode(Payer, in.TxID, &prev)
		total = total.Add(prev.Vout[in.Vout].Value)
	}
	var back, unsigned string
	n.Must(t, Payer, &back, "getnewaddress")
	n.Must(t, "", &unsigned, "createrawtransaction", inputs, map[string]string{back: total.Sub(decimal.RequireFromString("0.001")).StringFixed(8)})
	var signed struct {
		Hex string `json:"hex"`
	}
	n.Must(t, Payer, &signed, "signrawtransactionwithwallet", unsigned)
	n.Must(t, "", nil, "generateblock", back, []string{signed.Hex})
}

// NewAddress is a fresh address of the recipient wallet, of the given type (legacy,
// p2sh-segwit, bech32).
func (n *Node) NewAddress(t testing.TB, kind string) string {
	t.Helper()
	var addr string
	n.Must(t, Recipient, &addr, "getnewaddress", "", kind)
	return addr
}

// Stop asks the node to stop, kills it if it has not exited within 30s, and removes
// its data directory.
func (n *Node) Stop() {
	_ = n.Call(context.Background(), "", nil, "stop")
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	_ = os.RemoveAll(n.dir)
}

// freePort is a port nothing listens on now (0 if none could be found).
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
