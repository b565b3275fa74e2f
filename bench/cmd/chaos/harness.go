package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycore/withdrawals/bench/internal/apiclient"
)

// harness owns the service instances, the database connection used for checks and for
// the database faults, the webhook receiver, and the load.
type harness struct {
	cfg      config
	adminKey string
	dbMu     sync.Mutex
	db       *pgx.Conn
	svcLog   *os.File
	http     *http.Client

	mu        sync.Mutex
	instances []*instance // a and b; b runs from the two-instance fault on
	receiver  *receiver
	load      *load
}

// instance is one `withdrawals serve` process of the run.
type instance struct {
	name   string
	port   int
	client *apiclient.Client
	cmd    *exec.Cmd
	exited chan struct{}
}

func (i *instance) base() string { return fmt.Sprintf("http://127.0.0.1:%d", i.port) }

// serviceEnv is the environment every start of the service shares: fast batching and
// retries so faults resolve within the run, a retry budget large enough that an outage
// of the length of a phase never flags a batch, and a metrics listener per instance.
func (h *harness) serviceEnv(i *instance) []string {
	return append(os.Environ(),
		"DATABASE_URL="+h.cfg.DatabaseURL,
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", i.port),
		fmt.Sprintf("METRICS_ADDR=127.0.0.1:%d", i.port+100),
		"AUTO_MIGRATE=false",
		"PAYOUT_BATCH_INTERVAL=2s", "PAYOUT_POLL_INTERVAL=1s", "PAYOUT_RETRY_BASE=200ms", "PAYOUT_RETRY_MAX=2s",
		"PAYOUT_MAX_ATTEMPTS=1000", "PAYOUT_PROVIDER_TIMEOUT="+providerTimeout.String(),
		"SANDBOX_CONFIRM_DELAY=1s",
		"WEBHOOK_ALLOW_PRIVATE_URLS=true", "WEBHOOK_RETRY_BASE=200ms", "WEBHOOK_RETRY_MAX=3s", "WEBHOOK_MAX_ATTEMPTS=1000",
		"WEBHOOK_TIMEOUT="+webhookTimeout.String(),
		"RATE_LIMIT_PER_MINUTE=100000000", "RATE_LIMIT_WITHDRAWALS_PER_MINUTE=100000000",
		"SHUTDOWN_TIMEOUT=5s", "LOG_LEVEL=warn",
	)
}

const (
	providerTimeout = 3 * time.Second
	webhookTimeout  = 2 * time.Second
)

func newHarness(ctx context.Context, cfg config) (*harness, error) {
	h := &harness{cfg: cfg, http: &http.Client{Timeout: 10 * time.Second}}
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
	a := &instance{name: "a", port: cfg.Port}
	a.client = &apiclient.Client{Base: a.base(), HTTP: h.http}
	h.instances = []*instance{a}
	if err := h.start(ctx, a); err != nil {
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
	for _, i := range h.live() {
		h.stop(i, syscall.SIGTERM)
	}
	if h.receiver != nil {
		h.receiver.close()
	}
	if h.db != nil {
		h.db.Close(context.Background())
	}
	if h.svcLog != nil {
		h.svcLog.Close()
		if os.Getenv("CHAOS_KEEP_LOG") == "" {
			os.Remove(h.svcLog.Name())
		} else {
			fmt.Println("service log:", h.svcLog.Name())
		}
	}
}

// start runs the instance's process and waits until it answers /readyz.
func (h *harness) start(ctx context.Context, i *instance) error {
	cmd := exec.Command(h.cfg.Binary, "serve")
	cmd.Env = h.serviceEnv(i)
	cmd.Stdout, cmd.Stderr = h.svcLog, h.svcLog
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	h.mu.Lock()
	i.cmd, i.exited = cmd, exited
	h.mu.Unlock()
	return h.until(ctx, "instance "+i.name+" ready", func() (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("instance %s exited at start-up", i.name)
		default:
		}
		return h.ready(i), nil
	})
}

// stop signals the instance's process and waits for it to end.
func (h *harness) stop(i *instance, sig syscall.Signal) {
	h.mu.Lock()
	cmd, exited := i.cmd, i.exited
	i.cmd = nil
	h.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	<-exited
}

// live returns the instances whose processes run.
func (h *harness) live() []*instance {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*instance
	for _, i := range h.instances {
		if i.cmd != nil {
			out = append(out, i)
		}
	}
	return out
}

// pick returns a running instance at random, for the load to spread over.
func (h *harness) pick() *instance {
	live := h.live()
	if len(live) == 0 {
		return h.instances[0]
	}
	return live[rand.IntN(len(live))]
}

func (h *harness) ready(i *instance) bool {
	resp, err := h.http.Get(i.base() + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// allRecovered waits until every running instance answers /readyz and none has exited:
// recovery from a database fault must need no restart.
func (h *harness) allRecovered(ctx context.Context, what string) error {
	return h.until(ctx, what, func() (bool, error) {
		for _, i := range h.live() {
			select {
			case <-i.exited:
				return false, fmt.Errorf("instance %s exited", i.name)
			default:
			}
			if !h.ready(i) {
				return false, nil
			}
		}
		return true, nil
	})
}

func (h *harness) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// query runs one check on the harness's own connection, reconnecting once when the
// connection was lost (the database fault closes it).
func (h *harness) query(ctx context.Context, fn func(*pgx.Conn) error) error {
	h.dbMu.Lock()
	defer h.dbMu.Unlock()
	err := fn(h.db)
	if err != nil && (h.db.IsClosed() || h.db.Ping(ctx) != nil) {
		c, cerr := pgx.Connect(ctx, h.cfg.DatabaseURL)
		if cerr != nil {
			return err
		}
		h.db.Close(ctx)
		h.db = c
		err = fn(h.db)
	}
	return err
}

func (h *harness) count(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := h.query(ctx, func(c *pgx.Conn) error { return c.QueryRow(ctx, q, args...).Scan(&n) })
	return n, err
}

// until polls cond every 250 ms for up to 60 s; errors of cond end it.
func (h *harness) until(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(60 * time.Second)
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
	return fmt.Errorf("no %s within 60 s", what)
}

// admin calls the service as the run's admin key, on any running instance.
func (h *harness) admin(ctx context.Context, method, path string, body any) (int, []byte, error) {
	return h.pick().client.Call(ctx, method, path, h.adminKey, body, nil)
}
