// Package sdk_test runs the SDKs' own tests (sdk/typescript with Node's test runner,
// sdk/go with go test) against the real binary on its own PostgreSQL database: each
// walks a merchant's integration with its SDK, from the balance to a verified webhook.
package sdk_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

func TestSDKs(t *testing.T) {
	root, _ := filepath.Abs("..")
	if _, err := os.Stat(filepath.Join(root, "sdk/typescript/node_modules/openapi-fetch")); err != nil {
		t.Fatal("the TypeScript SDK's packages are needed: run scripts/sdk-tools.sh (make test does)")
	}
	_, dbURL := testdb.New(t)
	svc := apitest.StartBinary(t, root, dbURL)
	api := apitest.Remote(t, svc.URL, svc.AdminKey)

	for _, sdk := range []struct {
		name, dir string
		command   []string
	}{
		{"typescript", "sdk/typescript", []string{"npm", "test", "--silent"}},
		{"go", "sdk/go", []string{"go", "test", "-count=1", "./..."}},
	} {
		// Each SDK's merchant starts with 1,000 USDT and no withdrawals.
		merchant, key := api.Merchant("SDK " + sdk.name)
		api.Credit(merchant, "USDT", "1000")
		t.Run(sdk.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, sdk.command[0], sdk.command[1:]...)
			cmd.Dir = filepath.Join(root, sdk.dir)
			cmd.Env = append(os.Environ(), "WITHDRAWALS_URL="+svc.URL, "MERCHANT_KEY="+key)
			out, err := cmd.CombinedOutput()
			t.Logf("%s:\n%s", sdk.name, out)
			if err != nil {
				t.Fatalf("the %s SDK's tests failed: %v", sdk.name, err)
			}
		})
	}
}
