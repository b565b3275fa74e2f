package apitest

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Service is the real binary running for a test.
type Service struct {
	URL      string
	AdminKey string // an admin key created with `withdrawals admin create-key`
}

// StartBinary builds cmd/withdrawals from the repository at root and runs `serve` on
// dbURL until the test ends (SIGTERM, then a kill after 10 s), with the sandbox rail
// batching every second and confirming at once, and webhook URLs on 127.0.0.1 allowed;
// env adds or overrides settings (NAME=value). Its error lines are logged.
func StartBinary(t testing.TB, root, dbURL string, env ...string) Service {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "withdrawals")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd/withdrawals")).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env = append(append(os.Environ(), "DATABASE_URL="+dbURL, "HTTP_ADDR="+addr, "METRICS_ADDR=off", "LOG_LEVEL=warn",
		"PAYOUT_BATCH_INTERVAL=1s", "SANDBOX_CONFIRM_DELAY=0s", "PAYOUT_POLL_INTERVAL=200ms", "SHUTDOWN_TIMEOUT=4s",
		"WEBHOOK_ALLOW_PRIVATE_URLS=true"), env...) // tests' receivers listen on 127.0.0.1
	create := exec.Command(bin, "admin", "create-key", "--name", "test")
	create.Env = env
	key, err := create.Output()
	if err != nil {
		t.Fatalf("admin create-key: %v", err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if line := sc.Text(); strings.Contains(line, `"level":"ERROR"`) {
				t.Log("service:", line)
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() { Stop(cmd, done) })
	url := "http://" + addr
	WaitReady(t, url, done)
	return Service{URL: url, AdminKey: strings.TrimSpace(string(key))}
}

// WaitReady waits up to 30 s for the service at url to answer /readyz with 200, and
// fails the test if it does not or if exited closes first (the process ended).
func WaitReady(t testing.TB, url string, exited <-chan struct{}) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatal("the service exited at start")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not become ready in 30 s")
		}
	}
}

// Stop ends a started process with SIGTERM, or SIGKILL when it has not exited (exited
// closed) within 10 s, and waits for it.
func Stop(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}
