// Package sdk_test runs the SDKs' own tests (sdk/typescript with Node's test runner,
// sdk/go with go test) against the real binary on its own PostgreSQL database: each
// walks a merchant's integration with its SDK, from the balance to a verified webhook.
// Then the README's TypeScript program is compiled against the SDK and run.
package sdk_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

func TestSDKs(t *testing.T) {
	root, _ := filepath.Abs("..")
	ts := filepath.Join(root, "sdk/typescript")
	if _, err := os.Stat(filepath.Join(ts, "node_modules/openapi-fetch")); err != nil {
		t.Fatal("the TypeScript SDK's packages are needed: run scripts/sdk-tools.sh (make test does)")
	}
	_, dbURL := testdb.New(t)
	svc := apitest.StartBinary(t, root, dbURL)
	api := apitest.Remote(t, svc.URL, svc.AdminKey)
	// Each merchant starts with 1,000 USDT and no withdrawals.
	merchantKey := func(name string) string {
		merchant, key := api.Merchant(name)
		api.Credit(merchant, "USDT", "1000")
		return key
	}
	run := func(t *testing.T, dir string, env []string, command ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, command[0], command[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		t.Logf("%v:\n%s", command, out)
		if err != nil {
			t.Fatalf("%v failed: %v", command, err)
		}
	}

	t.Run("journeys", func(t *testing.T) {
		tsKey, goKey := merchantKey("SDK typescript"), merchantKey("SDK go")
		t.Run("typescript", func(t *testing.T) {
			t.Parallel()
			run(t, ts, []string{"WITHDRAWALS_URL=" + svc.URL, "MERCHANT_KEY=" + tsKey}, "npm", "test", "--silent")
		})
		t.Run("go", func(t *testing.T) {
			t.Parallel()
			run(t, filepath.Join(root, "sdk/go"), []string{"WITHDRAWALS_URL=" + svc.URL, "MERCHANT_KEY=" + goKey}, "go", "test", "-count=1", "./...")
		})
	})

	// The README's "Integrate with TypeScript" program, type-checked strictly against the
	// SDK as built above (npm test compiles it) and run as a merchant would.
	t.Run("readme", func(t *testing.T) {
		readme, err := os.ReadFile(filepath.Join(root, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		block := regexp.MustCompile("(?s)<!-- shop.ts:[^\n]*\n```typescript\n(.*?)```").FindSubmatch(readme)
		if block == nil {
			t.Fatal("README.md has no shop.ts block")
		}
		dir := t.TempDir()
		for name, content := range map[string]string{"shop.ts": string(block[1]), "package.json": `{"type": "module"}`} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, "node_modules/@paycore"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(ts, filepath.Join(dir, "node_modules/@paycore/withdrawals")); err != nil {
			t.Fatal(err)
		}
		run(t, dir, nil, filepath.Join(ts, "node_modules/.bin/tsc"), "--strict", "--target", "ES2022", "--module", "nodenext",
			"--moduleResolution", "nodenext", "--typeRoots", filepath.Join(ts, "node_modules/@types"), "--types", "node", "shop.ts")
		run(t, dir, []string{"API=" + svc.URL, "MERCHANT_KEY=" + merchantKey("README shop"), "PORT=" + strconv.Itoa(freePort(t))}, "node", "shop.js")
	})
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
