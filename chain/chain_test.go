package chain_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/anvil"
	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/regtest"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/rails/bitcoind"
)

// One litecoind -regtest and one anvil serve the whole package.
var (
	node *regtest.Node
	eth  *anvil.Node
)

func TestMain(m *testing.M) {
	var err error
	if node, err = regtest.Launch(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	if eth, err = anvil.Launch(); err != nil {
		node.Stop()
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	code := m.Run()
	node.Stop()
	eth.Stop()
	os.Exit(code)
}

// The rail as the service configures it for LTC on regtest, two confirmations deep.
func ltcRails(t *testing.T, rpcURL string) func(*gorm.DB) map[string]rails.Provider {
	t.Helper()
	p, err := bitcoind.New(bitcoind.Config{URL: rpcURL, Chain: "regtest", Confirmations: 2,
		MaxFeeRate: decimal.NewFromInt(100), FallbackFeeRate: decimal.NewFromInt(20)})
	if err != nil {
		t.Fatal(err)
	}
	return func(*gorm.DB) map[string]rails.Provider { return map[string]rails.Provider{"LTC": p} }
}

type withdrawal struct {
	ID, Status, Amount, NetAmount, Address string
	TxHash                                 *string
	FailureReason                          *string
}

func get(env *apitest.Env, key, id string) withdrawal {
	var w withdrawal
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/" + id, Key: key}).Decode(env.T, &w)
	return w
}

func received(t *testing.T, addr string) decimal.Decimal {
	t.Helper()
	var amount decimal.Decimal
	node.Must(t, regtest.Recipient, &amount, "getreceivedbyaddress", addr, 0)
	return amount
}

// Merchants' LTC withdrawals are paid by the node's wallet in one transaction,
// confirmed at depth, announced by webhooks, and every recipient gets exactly its net
// amount. A batch the wallet cannot afford fails and returns the funds.
func TestLitecoinPayoutsThroughTheAPI(t *testing.T) {
	env := apitest.New(t, func(o *apitest.Options) {
		o.TokenRails = ltcRails(t, node.WalletURL(regtest.Payer))
		o.LitecoinNetwork = "regtest"
		o.PollInterval = 100 * time.Millisecond
	})
	type merchant struct {
		key      string
		receiver *apitest.Receiver
		ids      []string
	}
	var merchants []*merchant
	addrs := map[string]string{}
	for i, kinds := range [][]string{{"bech32", "legacy"}, {"p2sh-segwit"}, {"bech32", "bech32"}} {
		id, key := env.Merchant(fmt.Sprintf("Chain merchant %d", i))
		env.Credit(id, "LTC", "10")
		m := &merchant{key: key, receiver: apitest.NewReceiver(t, nil)}
		env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/webhook-endpoints", Key: key, Body: map[string]any{"url": m.receiver.URL}})
		for j, kind := range kinds {
			addr := node.NewAddress(t, kind)
			wid := env.Withdraw(key, "LTC", fmt.Sprintf("0.%d2345678", i*2+j+1), addr)
			m.ids = append(m.ids, wid)
			addrs[wid] = addr
		}
		merchants = append(merchants, m)
	}
	// Creation refuses what the chain could not pay: an address of another network.
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: merchants[0].key,
		Body: map[string]any{"token": "LTC", "amount": "0.1", "address": "ltc1qjjss69l2m5n2aa5gp9galul5gyfjgzcvrq0vkk"}})
	if r.Status != http.StatusBadRequest || r.ErrorCode() != "INVALID_ADDRESS" {
		t.Errorf("mainnet address on regtest: %d %s", r.Status, r.Body)
	}

	env.StartJobs()
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	var txid string
	env.WaitFor(30*time.Second, "every withdrawal broadcast", func() bool {
		for _, m := range merchants {
			for _, id := range m.ids {
				w := get(env, m.key, id)
				if w.Status != "processing" || w.TxHash == nil {
					return false
				}
				txid = *w.TxHash
			}
		}
		return true
	})
	// One batch, one transaction: unconfirmed, nothing is final yet.
	for _, m := range merchants {
		for _, id := range m.ids {
			if w := get(env, m.key, id); *w.TxHash != txid {
				t.Fatalf("%s in %s, others in %s", id, *w.TxHash, txid)
			}
		}
	}
	node.Mine(t, 1)
	// Wait until a poll has started after the block and ended (snoozed again, so its
	// settle transaction, had it made one, committed): it saw depth 1 and must have
	// confirmed nothing.
	var mined time.Time
	env.DB.Raw(`SELECT now()`).Scan(&mined)
	env.WaitFor(30*time.Second, "a poll at depth 1", func() bool {
		var polled int
		env.DB.Raw(`SELECT count(*) FROM river_job WHERE kind = 'payout_poll' AND state IN ('scheduled', 'available') AND attempted_at > ?`, mined).Scan(&polled)
		return polled > 0
	})
	if w := get(env, merchants[0].key, merchants[0].ids[0]); w.Status != "processing" {
		t.Fatalf("confirmed at depth 1 of 2: %+v", w)
	}
	node.Mine(t, 1)
	env.WaitFor(30*time.Second, "every withdrawal confirmed", func() bool {
		for _, m := range merchants {
			for _, id := range m.ids {
				if get(env, m.key, id).Status != "confirmed" {
					return false
				}
			}
		}
		return true
	})
	for _, m := range merchants {
		for _, id := range m.ids {
			w := get(env, m.key, id)
			if got := received(t, w.Address); !got.Equal(decimal.RequireFromString(w.NetAmount)) {
				t.Errorf("%s: %s received %s, netAmount %s", id, w.Address, got, w.NetAmount)
			}
		}
		env.WaitFor(20*time.Second, "confirmed webhooks", func() bool {
			confirmed := 0
			for _, req := range m.receiver.Requests() {
				if _, event, data := req.Event(); event == "withdrawal.confirmed" && data["txHash"] == txid {
					confirmed++
				}
			}
			return confirmed == len(m.ids)
		})
	}
	testdb.AssertLedgerConsistent(t, env.DB)

	// More than the wallet holds: the node refuses before creating anything, so the
	// withdrawal fails with its reason and the merchant gets the amount back.
	rich, richKey := env.Merchant("Too big")
	env.Credit(rich, "LTC", "100000")
	addr := node.NewAddress(t, "bech32")
	id := env.Withdraw(richKey, "LTC", "90000", addr)
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	env.WaitFor(30*time.Second, "the unaffordable withdrawal failed", func() bool { return get(env, richKey, id).Status == "failed" })
	if w := get(env, richKey, id); w.FailureReason == nil || *w.FailureReason != bitcoind.ReasonInsufficientFunds {
		t.Errorf("failure reason %v, want %s", w.FailureReason, bitcoind.ReasonInsufficientFunds)
	}
	if avail, pending := env.Balance(richKey, "LTC"); !avail.Equal(decimal.NewFromInt(100000)) || !pending.IsZero() {
		t.Errorf("after the failure: available %s pending %s, want everything back", avail, pending)
	}
	if got := received(t, addr); !got.IsZero() {
		t.Errorf("failed withdrawal's address received %s", got)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// A node that cannot be reached is not a failure: the batch is retried, then waits for
// an admin with its funds locked, and nothing is paid.
func TestUnreachableNodeKeepsFundsLocked(t *testing.T) {
	env := apitest.New(t, func(o *apitest.Options) {
		o.TokenRails = ltcRails(t, "http://user:pass@127.0.0.1:1/wallet/payer")
		o.LitecoinNetwork = "regtest"
		o.MaxAttempts = 3
		o.StartJobs = true
	})
	mid, key := env.Merchant("Offline")
	env.Credit(mid, "LTC", "1")
	addr := node.NewAddress(t, "bech32")
	id := env.Withdraw(key, "LTC", "0.5", addr)
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	env.WaitFor(30*time.Second, "the batch flagged for review", func() bool {
		var n int64
		env.DB.Raw(`SELECT count(*) FROM payout_batches WHERE status = 'needs_review'`).Scan(&n)
		return n == 1
	})
	if w := get(env, key, id); w.Status != "processing" {
		t.Errorf("withdrawal %s after an unreachable node, want processing", w.Status)
	}
	if _, pending := env.Balance(key, "LTC"); !pending.Equal(decimal.RequireFromString("0.5")) {
		t.Errorf("pending %s, want the amount still locked", pending)
	}
	var ready struct {
		Rails []struct {
			Token     string
			Reachable bool
			Error     string
		}
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/readyz"}).Decode(t, &ready)
	if len(ready.Rails) != 1 || ready.Rails[0].Token != "LTC" || ready.Rails[0].Reachable || strings.Contains(ready.Rails[0].Error, "pass") {
		t.Errorf("readyz rails %+v", ready.Rails)
	}
	if got := received(t, addr); !got.IsZero() {
		t.Errorf("received %s", got)
	}
}

// A payout whose transaction lost to a conflicting one is not failed by the service:
// the batch is re-checked, then flagged for review with the funds locked, and an admin
// who has looked at the chain fails it, which returns the funds.
func TestConflictedPayoutWaitsForAnAdmin(t *testing.T) {
	env := apitest.New(t, func(o *apitest.Options) {
		o.TokenRails = ltcRails(t, node.WalletURL(regtest.Payer))
		o.LitecoinNetwork = "regtest"
		o.PollInterval = 100 * time.Millisecond
		o.MaxAttempts = 3
		o.StartJobs = true
	})
	mid, key := env.Merchant("Conflicted")
	env.Credit(mid, "LTC", "2")
	addr := node.NewAddress(t, "bech32")
	id := env.Withdraw(key, "LTC", "1", addr)
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	env.WaitFor(30*time.Second, "the payout broadcast", func() bool { return get(env, key, id).TxHash != nil })
	w := get(env, key, id)
	node.DoubleSpend(t, *w.TxHash)
	var batchID string
	env.WaitFor(30*time.Second, "the batch flagged for review", func() bool {
		env.DB.Raw(`SELECT id FROM payout_batches WHERE status = 'needs_review'`).Scan(&batchID)
		return batchID != ""
	})
	if w := get(env, key, id); w.Status != "processing" {
		t.Fatalf("after the conflict the withdrawal is %s, want processing", w.Status)
	}
	if _, pending := env.Balance(key, "LTC"); !pending.Equal(decimal.NewFromInt(1)) {
		t.Fatalf("pending %s, want the amount locked", pending)
	}
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-batches/" + batchID + "/resolve", Key: env.AdminKey,
		Body: map[string]any{"action": "fail", "reason": "double-spent by the hot wallet"}})
	if r.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", r.Status, r.Body)
	}
	if w := get(env, key, id); w.Status != "failed" {
		t.Errorf("after the admin failed it: %s", w.Status)
	}
	if avail, pending := env.Balance(key, "LTC"); !avail.Equal(decimal.NewFromInt(2)) || !pending.IsZero() {
		t.Errorf("available %s pending %s, want everything back", avail, pending)
	}
	if got := received(t, addr); !got.IsZero() {
		t.Errorf("received %s", got)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// The service is killed (SIGKILL) right after the node accepted the batch's
// transaction and before the answer reached it. Restarted, it finds the transaction in
// the wallet and records it: each recipient is paid exactly once.
func TestKilledAfterBroadcastPaysOnce(t *testing.T) {
	t.Parallel()
	db, dbURL := testdb.New(t)
	svc := &service{t: t, bin: buildService(t), dbURL: dbURL}
	proxy, sends := killingProxy(t, fmt.Sprintf("http://127.0.0.1:%d", node.RPCPort), "sendmany", svc)
	rpcURL := strings.Replace(node.WalletURL(regtest.Payer), fmt.Sprintf("127.0.0.1:%d", node.RPCPort), strings.TrimPrefix(proxy.URL, "http://"), 1)
	svc.vars = []string{"PAYOUT_LTC=bitcoind", "BITCOIND_LTC_RPC_URL=" + rpcURL, "LITECOIN_NETWORK=regtest", "LITECOIN_CONFIRMATIONS=2",
		"BITCOIND_LTC_FALLBACK_FEE_RATE=20"}

	svc.start()
	env := apitest.Remote(t, svc.url, svc.adminKey())
	var ready struct {
		Rails []struct {
			Token     string
			Reachable bool
		}
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/readyz"}).Decode(t, &ready)
	if len(ready.Rails) != 1 || !ready.Rails[0].Reachable {
		t.Fatalf("readyz rails %+v", ready.Rails)
	}
	want := map[string]string{} // withdrawal id -> address
	keys := map[string]string{}
	for i := range 2 {
		mid, key := env.Merchant(fmt.Sprintf("Killed %d", i))
		env.Credit(mid, "LTC", "5")
		for j := range 2 {
			addr := node.NewAddress(t, []string{"bech32", "legacy"}[j])
			id := env.Withdraw(key, "LTC", fmt.Sprintf("1.%d", i*2+j+1), addr)
			want[id], keys[id] = addr, key
		}
	}
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	svc.waitKilled(60 * time.Second)

	// The node has the transaction; the service recorded nothing of it.
	var batchID string
	db.Raw(`SELECT id FROM payout_batches`).Scan(&batchID)
	var recorded int64
	db.Raw(`SELECT count(*) FROM withdrawals WHERE tx_hash IS NOT NULL`).Scan(&recorded)
	if batchID == "" || recorded != 0 || sends.Load() != 1 {
		t.Fatalf("after the kill: batch %q, %d withdrawals with a tx hash, %d sends; want one unrecorded send", batchID, recorded, sends.Load())
	}

	// Restarted, the service takes the interrupted job up again (River rescues it once
	// its timeout has passed) and finds the transaction instead of sending another.
	svc.start()
	env.WaitFor(4*time.Minute, "the transaction recorded after the restart", func() bool {
		var n int64
		db.Raw(`SELECT count(*) FROM withdrawals WHERE tx_hash IS NOT NULL`).Scan(&n)
		return n == int64(len(want))
	})
	node.Mine(t, 2)
	env.WaitFor(60*time.Second, "every withdrawal confirmed", func() bool {
		for id, key := range keys {
			if get(env, key, id).Status != "confirmed" {
				return false
			}
		}
		return true
	})
	if n := sends.Load(); n != 1 {
		t.Errorf("%d sendmany calls, want 1", n)
	}
	var sent []struct {
		Category, Comment, TxID string
	}
	node.Must(t, regtest.Payer, &sent, "listtransactions", "*", 1000)
	txs := map[string]bool{}
	for _, s := range sent {
		if s.Category == "send" && s.Comment == batchID {
			txs[s.TxID] = true
		}
	}
	if len(txs) != 1 {
		t.Errorf("the wallet holds %d transactions for batch %s, want 1", len(txs), batchID)
	}
	for id, addr := range want {
		w := get(env, keys[id], id)
		if got := received(t, addr); !got.Equal(decimal.RequireFromString(w.NetAmount)) {
			t.Errorf("%s: received %s, netAmount %s", addr, got, w.NetAmount)
		}
	}
	testdb.AssertLedgerConsistent(t, db)
	svc.stop()
}

// service is the real binary, started and killed by the test.
type service struct {
	t           *testing.T
	bin, dbURL  string
	vars        []string // the rail's settings
	url         string
	mu          sync.Mutex
	cmd         *exec.Cmd
	done        chan struct{}
	admin       string
	cleanupOnce sync.Once
}

func (s *service) env() []string {
	return append(append(os.Environ(), "DATABASE_URL="+s.dbURL, "METRICS_ADDR=off", "LOG_LEVEL=warn",
		"PAYOUT_BATCH_INTERVAL=0s", "PAYOUT_POLL_INTERVAL=200ms",
		"PAYOUT_PROVIDER_TIMEOUT=1s", "PAYOUT_RETRY_BASE=100ms", "PAYOUT_RETRY_MAX=1s", "SHUTDOWN_TIMEOUT=4s"), s.vars...)
}

// buildService builds the binary for a test.
func buildService(t *testing.T) (bin string) {
	t.Helper()
	bin = filepath.Join(t.TempDir(), "withdrawals")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/withdrawals").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// killingProxy stands between the service and a node: the first request whose body
// holds method is forwarded, and once the node has answered, the service is killed
// before the answer reaches it. It counts those requests.
func killingProxy(t *testing.T, target string, method string, svc *service) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	nodeURL, _ := url.Parse(target)
	var calls atomic.Int32
	forward := httputil.NewSingleHostReverseProxy(nodeURL)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !bytes.Contains(body, []byte(`"`+method+`"`)) {
			forward.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		forward.ServeHTTP(rec, r)
		if calls.Add(1) == 1 {
			svc.kill()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(proxy.Close)
	return proxy, &calls
}

func (s *service) adminKey() string {
	if s.admin == "" {
		cmd := exec.Command(s.bin, "admin", "create-key", "--name", "chain-test")
		cmd.Env = s.env()
		out, err := cmd.Output()
		if err != nil {
			s.t.Fatalf("admin create-key: %v", err)
		}
		s.admin = strings.TrimSpace(string(out))
	}
	return s.admin
}

func (s *service) start() {
	s.t.Helper()
	addr := strings.TrimPrefix(s.url, "http://")
	if addr == "" { // the first start picks a port; a restart keeps it
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = append(s.env(), "HTTP_ADDR="+addr)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if line := sc.Text(); strings.Contains(line, `"level":"ERROR"`) {
				s.t.Log("service:", line)
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done, s.url = cmd, done, "http://"+addr
	s.mu.Unlock()
	s.cleanupOnce.Do(func() { s.t.Cleanup(s.stop) })
	apitest.WaitReady(s.t, s.url, done)
}

// kill sends SIGKILL: no shutdown, no last write.
func (s *service) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
	}
}

func (s *service) waitKilled(timeout time.Duration) {
	s.t.Helper()
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
	case <-time.After(timeout):
		s.t.Fatalf("the service was not killed within %v: no sendmany reached the node", timeout)
	}
}

// stop ends the service with SIGTERM, or SIGKILL after 10s.
func (s *service) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	apitest.Stop(cmd, done)
}
