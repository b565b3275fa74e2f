// Package anvil starts a throwaway anvil (Foundry's local Ethereum node, installed from
// npm by scripts/evm-tools.sh into tools/evm) on 127.0.0.1 for the Ethereum rail's tests,
// with helpers to deploy and mint the project's test token (TestUSD), fund accounts,
// mine, and rewind the chain. Without anvil the tests fail, saying how to install it.
package anvil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/paycore/withdrawals/internal/jsonrpc"
)

// ChainID is the chain id the node runs with.
const ChainID = 31337

// Node is a running anvil.
type Node struct {
	URL    string
	cmd    *exec.Cmd
	exited chan struct{}
	dev    common.Address // an unlocked, funded account of anvil's
}

// root is the module's directory.
func root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Binary is anvil: ANVIL when set, else the one scripts/evm-tools.sh installs.
func Binary() (string, error) {
	if b := os.Getenv("ANVIL"); b != "" {
		return b, nil
	}
	dir, err := root()
	if err != nil {
		return "", err
	}
	b := filepath.Join(dir, "tools/evm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
	if _, err := os.Stat(b); err != nil {
		return "", errors.New("anvil is not installed: run scripts/evm-tools.sh (make test does), or set ANVIL to its path")
	}
	return b, nil
}

// Launch starts a node; the caller stops it (Stop).
func Launch() (*Node, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	n := &Node{URL: fmt.Sprintf("http://127.0.0.1:%d", port), exited: make(chan struct{})}
	n.cmd = exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--chain-id", strconv.Itoa(ChainID),
		"--silent", "--accounts", "2", "--balance", "1000000")
	var stderr bytes.Buffer
	n.cmd.Stderr = &stderr
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start anvil: %w", err)
	}
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	var accounts []common.Address
	for n.Call(&accounts, "eth_accounts") != nil {
		select {
		case <-n.exited:
			return nil, fmt.Errorf("anvil exited at start: %s", stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.Stop()
			return nil, errors.New("anvil did not answer within 30s")
		}
	}
	n.dev = accounts[0]
	return n, nil
}

// Stop kills the node (it keeps nothing on disk).
func (n *Node) Stop() {
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// Call runs one JSON-RPC method and decodes its result into out (when not nil).
func (n *Node) Call(out any, method string, params ...any) error {
	return jsonrpc.Call(context.Background(), n.URL, "", "", out, method, params...)
}

// Must is Call, failing the test on an error.
func (n *Node) Must(t testing.TB, out any, method string, params ...any) {
	t.Helper()
	if err := n.Call(out, method, params...); err != nil {
		t.Fatal(err)
	}
}

// send has the dev account send a transaction and, the node mining it at once, returns
// its receipt.
func (n *Node) send(t testing.TB, to *common.Address, data []byte) map[string]any {
	t.Helper()
	tx := map[string]any{"from": n.dev, "data": hexutil.Encode(data)}
	if to != nil {
		tx["to"] = to
	}
	var hash string
	n.Must(t, &hash, "eth_sendTransaction", tx)
	var receipt map[string]any
	for deadline := time.Now().Add(10 * time.Second); receipt == nil && time.Now().Before(deadline); {
		n.Must(t, &receipt, "eth_getTransactionReceipt", hash)
		if receipt == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if receipt == nil || receipt["status"] != "0x1" {
		t.Fatalf("dev transaction %s failed: %v", hash, receipt)
	}
	return receipt
}

// DeployToken deploys TestUSD (rails/evm/testdata) and returns its address.
func (n *Node) DeployToken(t testing.TB) common.Address {
	t.Helper()
	dir, err := root()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "rails/evm/testdata/TestUSD.json"))
	if err != nil {
		t.Fatal(err)
	}
	var artifact struct {
		Bytecode string `json:"bytecode"`
	}
	if err := json.Unmarshal(raw, &artifact); err != nil {
		t.Fatal(err)
	}
	receipt := n.send(t, nil, hexutil.MustDecode(artifact.Bytecode))
	return common.HexToAddress(receipt["contractAddress"].(string))
}

func call(selector string, args ...[]byte) []byte {
	data := hexutil.MustDecode(selector)
	for _, a := range args {
		data = append(data, common.LeftPadBytes(a, 32)...)
	}
	return data
}

// Mint gives to amount base units of token.
func (n *Node) Mint(t testing.TB, token, to common.Address, amount *big.Int) {
	t.Helper()
	n.send(t, &token, call("0x40c10f19", to.Bytes(), amount.Bytes())) // mint(address,uint256)
}

// Blacklist makes every transfer to or from who revert.
func (n *Node) Blacklist(t testing.TB, token, who common.Address) {
	t.Helper()
	n.send(t, &token, call("0x0ecb93c0", who.Bytes())) // addBlackList(address)
}

// BlacklistAhead queues the blacklisting with a tip high enough to be mined before
// the transactions already waiting, without waiting for it (for automine off).
func (n *Node) BlacklistAhead(t testing.TB, token, who common.Address) {
	t.Helper()
	n.Must(t, nil, "eth_sendTransaction", map[string]any{"from": n.dev, "to": token, "data": hexutil.Encode(call("0x0ecb93c0", who.Bytes())),
		"maxPriorityFeePerGas": hexutil.EncodeBig(big.NewInt(500e9)), "maxFeePerGas": hexutil.EncodeBig(big.NewInt(1000e9))})
}

// TokenBalance is who's balance of token, in base units.
func (n *Node) TokenBalance(t testing.TB, token, who common.Address) *big.Int {
	t.Helper()
	var out hexutil.Bytes
	n.Must(t, &out, "eth_call", map[string]any{"to": token, "data": hexutil.Encode(call("0x70a08231", who.Bytes()))}, "latest")
	return new(big.Int).SetBytes(out)
}

// Balance is who's native balance, in wei.
func (n *Node) Balance(t testing.TB, who common.Address) *big.Int {
	t.Helper()
	var out hexutil.Big
	n.Must(t, &out, "eth_getBalance", who, "latest")
	return out.ToInt()
}

// SetBalance sets who's native balance, in wei.
func (n *Node) SetBalance(t testing.TB, who common.Address, wei *big.Int) {
	t.Helper()
	n.Must(t, nil, "anvil_setBalance", who, hexutil.EncodeBig(wei))
}

// Mine mines blocks.
func (n *Node) Mine(t testing.TB, blocks int) {
	t.Helper()
	n.Must(t, nil, "anvil_mine", hexutil.EncodeUint64(uint64(blocks)))
}

// Automine turns mining on every transaction on or off.
func (n *Node) Automine(t testing.TB, on bool) {
	t.Helper()
	n.Must(t, nil, "evm_setAutomine", on)
}

// Snapshot records the chain's state; Revert goes back to it, as a reorganisation
// would take blocks away.
func (n *Node) Snapshot(t testing.TB) string {
	t.Helper()
	var id string
	n.Must(t, &id, "evm_snapshot")
	return id
}

// Revert goes back to a snapshot.
func (n *Node) Revert(t testing.TB, id string) {
	t.Helper()
	var ok bool
	n.Must(t, &ok, "evm_revert", id)
	if !ok {
		t.Fatalf("evm_revert %s refused", id)
	}
}
