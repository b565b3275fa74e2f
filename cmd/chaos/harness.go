package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycore/withdrawals/internal/apiclient"
)

// harness owns the service process, the database connection used for checks and for
// the database fault, the webhook receiver, and the load.
type harness struct {
	cfg      config
	base     string
	adminKey string
	db       *pgx.Conn
	svc      *exec.Cmd
	svcLog   *os.File
	receiver *receiver
	load     *load
	http     *http.Client
	client   *apiclient.Client
}

// serviceEnv is the environment every start of the service shares: fast batching and
// retries so faults resolve within the run, a retry budget large enough that an outage
// of the length of a phase never flags a batch.
func (h *harness) serviceEnv(extra ...string) []string {
	return append(append(os.Environ(),
		"DATABASE_URL="+h.cfg.DatabaseURL,
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", h.cfg.Port),
		"AUTO_MIGRATE=false",
		"PAYOUT_BATCH_INTERVAL=2s", "PAYOUT_POLL_INTERVAL=1s", "PAYOUT_RETRY_BASE=200ms", "PAYOUT_RETRY_MAX=2s",
		"PAYOUT_MAX_ATTEMPTS=1000", "PAYOUT_PROVIDER_TIMEOUT=5s",
		"SANDBOX_CONFIRM_DELAY=1s",
		"WEBHOOK_ALLOW_PRIVATE_URLS=true", "WEBHOOK_RETRY_BASE=200ms", "WEBHOOK_MAX_ATTEMPTS=1000", "WEBHOOK_TIMEOUT=2s",
		"RATE_LIMIT_PER_MINUTE=100000000", "RATE_LIMIT_WITHDRAWALS_PER_MINUTE=100000000",
		"SHUTDOWN_TIMEOUT=5s", "LOG_LEVEL=warn",
	), extra...)
}

func newHarness(ctx context.Context, cfg config) (*harness, error) {
	h := &harness{cfg: cfg, base: fmt.Sprintf("http://127.0.0.1:%d", cfg.Port), http: &http.Client{Timeout: 10 * time.Second}}
	h.client = &apiclient.Client{Base: h.base, HTTP: h.http}
	var err error
	if h.db, err = pgx.Connect(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, cfg.Binary, "admin", "create-key", "--name", "chaos").Output()
	if err != nil {
		return nil, fmt.Errorf("admin key: %w", err)
	}
	h.adminKey = strings.TrimSpace(string(out))
	if h.svcLog, err = os.CreateTemp("", "chaos-service-*.log"); err != nil {
		return nil, err
	}
	if err := h.startService(ctx); err != nil {
		return nil, err
	}
	if h.receiver, err = startReceiver(); err != nil {
		return nil, err
	}
	h.load = &load{h: h}
	if err := h.load.seed(ctx, cfg.Merchants); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	return h, nil
}

func (h *harness) close() {
	h.stopService(syscall.SIGTERM)
	if h.receiver != nil {
		h.receiver.close()
	}
	if h.db != nil {
		h.db.Close(context.Background())
	}
	if h.svcLog != nil {
		h.svcLog.Close()
		os.Remove(h.svcLog.Name())
	}
}

func (h *harness) startService(ctx context.Context, extra ...string) error {
	cmd := exec.Command(h.cfg.Binary, "serve")
	cmd.Env = h.serviceEnv(extra...)
	cmd.Stdout, cmd.Stderr = h.svcLog, h.svcLog
	if err := cmd.Start(); err != nil {
		return err
	}
	h.svc = cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if resp, err := h.http.Get(h.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("service did not become ready")
}

func (h *harness) stopService(sig syscall.Signal) {
	if h.svc == nil || h.svc.Process == nil {
		return
	}
	_ = h.svc.Process.Signal(sig)
	_ = h.svc.Wait()
	h.svc = nil
}

func (h *harness) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Fault 1: the process dies mid-flight, with no chance to finish anything.
func (h *harness) killAndRestart(ctx context.Context) error {
	h.stopService(syscall.SIGKILL)
	h.sleep(ctx, time.Second)
	return h.startService(ctx)
}

// Fault 2: every connection of the service to the database is cut, three times; the
// service must answer in the contract's format meanwhile and recover by itself.
func (h *harness) terminateConnections(ctx context.Context) error {
	for range 3 {
		if _, err := h.db.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			return err
		}
		h.sleep(ctx, time.Second)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := h.http.Get(h.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && h.svc.ProcessState == nil {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("service did not recover without a restart")
}

// Fault 3: the provider accepts batches but the answers are lost, then it is down.
// Each stage lasts until the database shows that it hit (a provider call recorded as
// failed), so a fault can never pass unnoticed by being too short.
func (h *harness) providerOutage(ctx context.Context) error {
	for _, fault := range []string{"timeout_after_accept", "unavailable"} {
		before, err := h.count(ctx, `SELECT COALESCE(SUM(attempts), 0) FROM payout_batches`)
		if err != nil {
			return err
		}
		h.stopService(syscall.SIGTERM)
		if err := h.startService(ctx, "SANDBOX_FAULT="+fault); err != nil {
			return err
		}
		if err := h.until(ctx, "a provider call failing under "+fault, func() (bool, error) {
			// Batches run on demand too, so the stage does not wait for River's leader.
			_, _, _ = h.api(ctx, http.MethodPost, "/api/admin/payout-runs", h.adminKey, nil, nil)
			n, err := h.count(ctx, `SELECT COALESCE(SUM(attempts), 0) FROM payout_batches`)
			return n > before, err
		}); err != nil {
			return err
		}
		h.sleep(ctx, h.cfg.Phase)
	}
	h.stopService(syscall.SIGTERM)
	return h.startService(ctx)
}

// Fault 4: the merchants' webhook receiver stops answering, then comes back once a
// delivery has failed against it.
func (h *harness) receiverOutage(ctx context.Context) error {
	before, err := h.count(ctx, `SELECT COUNT(*) FROM webhook_attempts WHERE error IS NOT NULL`)
	if err != nil {
		return err
	}
	h.receiver.setDown(true)
	err = h.until(ctx, "a webhook delivery failing", func() (bool, error) {
		n, err := h.count(ctx, `SELECT COUNT(*) FROM webhook_attempts WHERE error IS NOT NULL`)
		return n > before, err
	})
	h.sleep(ctx, h.cfg.Phase)
	h.receiver.setDown(false)
	return err
}

func (h *harness) count(ctx context.Context, q string) (int, error) {
	var n int
	err := h.db.QueryRow(ctx, q).Scan(&n)
	return n, err
}

// until polls cond for up to 30 s.
func (h *harness) until(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("the fault did not take effect: no %s within 30 s", what)
}

// api calls the service.
func (h *harness) api(ctx context.Context, method, path, key string, body any, header map[string]string) (int, []byte, error) {
	return h.client.Call(ctx, method, path, key, body, header)
}

// receiver is the merchants' webhook endpoint; it can be taken down (connections
// refused) and brought back.
type receiver struct {
	url  string
	addr string
	mu   sync.Mutex
	srv  *http.Server
	got  map[string]int // event id -> deliveries received
}

func startReceiver() (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{addr: l.Addr().String(), got: map[string]int{}}
	r.url = "http://" + r.addr + "/webhooks"
	r.serve(l)
	return r, nil
}

func (r *receiver) serve(l net.Listener) {
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var evt struct{ ID string }
		_ = json.NewDecoder(req.Body).Decode(&evt)
		r.mu.Lock()
		r.got[evt.ID]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})}
	go r.srv.Serve(l) //nolint:errcheck // closed by setDown or close
}

func (r *receiver) setDown(down bool) {
	if down {
		_ = r.srv.Close()
		return
	}
	for range 50 { // the port is ours again once the old listener is gone
		if l, err := net.Listen("tcp", r.addr); err == nil {
			r.serve(l)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *receiver) received() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.got))
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

func (r *receiver) close() { _ = r.srv.Close() }
