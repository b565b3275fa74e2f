package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"time"

	"github.com/paycore/withdrawals/handlers"
	"github.com/paycore/withdrawals/internal/app"
	"github.com/paycore/withdrawals/models"
)

// errDiscrepancy makes `admin reconcile` exit non-zero after printing its report.
var errDiscrepancy = errors.New("ledger reconciliation found discrepancies")

func adminCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "withdrawals: admin needs a command\n\n%s", usage)
		return exitCode(2)
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "create-key":
		fs := commandFlags("admin create-key", "create an admin API key and print only the key, so scripts can capture it:\n"+
			"  ADMIN_KEY=$(withdrawals admin create-key --name ops)\nThe audit trail records it as the operating system user's", stdout, stderr, nil)
		name := fs.String("name", "", "a name that says who or what uses the key (required)")
		scope := fs.String("scope", "read_write", "read (look at everything, change nothing) or read_write")
		if err := parse(fs, args[1:], stdout, stderr); err != nil {
			return err
		}
		if *name == "" {
			fmt.Fprintln(stderr, "withdrawals: admin create-key: --name is required")
			fs.SetOutput(stderr)
			fs.Usage()
			return exitCode(2)
		}
		return withConfig(func(cfg config) error { return createKey(ctx, cfg, *name, models.Scope(*scope), stdout) })
	case "reconcile":
		fs := commandFlags("admin reconcile", "check the ledger: print the reconciliation report as JSON (the document of\n"+
			"GET /api/admin/ledger/reconciliation) and exit 1 on any discrepancy. It starts from the last\n"+
			"verified checkpoint and reads the entries written since; --full reads the whole ledger and\n"+
			"also counts the withdrawals", stdout, stderr, nil)
		full := fs.Bool("full", false, "read the whole ledger and count every withdrawal")
		if err := parse(fs, args[1:], stdout, stderr); err != nil {
			return err
		}
		return withConfig(func(cfg config) error { return reconcile(ctx, cfg, *full, stdout) })
	default:
		fmt.Fprintf(stderr, "withdrawals: unknown admin command %q\n\n%s", args[0], usage)
		return exitCode(2)
	}
}

// withAdmin runs fn with the admin use cases over the configured database, applying
// migrations first when migrate is true.
func withAdmin(ctx context.Context, cfg config, migrate bool, fn func(*app.Admin) error) error {
	db, err := openMigrated(ctx, cfg, migrate)
	if err != nil {
		return err
	}
	defer closeDB(db)
	admin, err := app.NewAdmin(db, time.Now)
	if err != nil {
		return err
	}
	return fn(admin)
}

func createKey(ctx context.Context, cfg config, name string, scope models.Scope, stdout io.Writer) error {
	return withAdmin(ctx, cfg, cfg.AutoMigrate, func(admin *app.Admin) error {
		key, err := admin.Accounts.CreateAdminKey(ctx, name, scope, cliActor())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, key.Plaintext)
		return err
	})
}

func reconcile(ctx context.Context, cfg config, full bool, stdout io.Writer) error {
	return withAdmin(ctx, cfg, false, func(admin *app.Admin) error {
		report, err := admin.Ledger.Reconcile(ctx, full)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(handlers.ReconciliationOf(report)); err != nil {
			return err
		}
		if !report.OK {
			return errDiscrepancy
		}
		return nil
	})
}

// cliActor is who the audit trail says acted from the command line: the operating
// system user running it.
func cliActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return "cli:" + name
}
