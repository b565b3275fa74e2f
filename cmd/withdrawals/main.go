// Command withdrawals is the service's one binary:
//
//	withdrawals serve                          run the HTTP API
//	withdrawals migrate                        apply database migrations
//	withdrawals admin create-key --name NAME   print a new admin API key
//
// Configuration is environment variables (see config.go and the README).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"syscall"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/handlers"
	"github.com/paycore/withdrawals/internal/database"
	"github.com/paycore/withdrawals/internal/logging"
	"github.com/paycore/withdrawals/migrations"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
)

const usage = `usage:
  withdrawals serve                          run the HTTP API
  withdrawals migrate                        apply database migrations
  withdrawals admin create-key --name NAME [--scope read]   create an admin API key and print it
  withdrawals admin reconcile                check the ledger; exit 1 on any discrepancy
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "withdrawals:", err)
		os.Exit(1)
	}
}

// run is the whole program; main only adds signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogLevel)
	switch args[0] {
	case "serve":
		return serve(ctx, cfg, logger, stdout)
	case "migrate":
		db, err := openMigrated(ctx, cfg, true)
		if err != nil {
			return err
		}
		logger.Info("migrations applied", "database", database.Redact(cfg.DatabaseURL))
		return closeDB(db)
	case "admin":
		return adminCommand(ctx, cfg, args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// openMigrated connects to the database, creating it and applying migrations when
// migrate is true.
func openMigrated(ctx context.Context, cfg config, migrate bool) (*gorm.DB, error) {
	if migrate {
		if err := database.EnsureExists(ctx, cfg.DatabaseURL); err != nil {
			return nil, err
		}
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return nil, err
	}
	if migrate {
		sqlDB, err := db.DB()
		if err != nil {
			return nil, err
		}
		if err := migrations.Up(ctx, sqlDB); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	return db, nil
}

func closeDB(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// errDiscrepancy makes `admin reconcile` exit non-zero after printing its report.
var errDiscrepancy = errors.New("ledger reconciliation found discrepancies")

func adminCommand(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "reconcile" {
		return reconcileCommand(ctx, cfg, stdout)
	}
	if len(args) == 0 || args[0] != "create-key" {
		fmt.Fprint(stderr, usage)
		return errors.New("unknown admin command")
	}
	fs := flag.NewFlagSet("admin create-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "a name that says who or what uses the key")
	scope := fs.String("scope", "read_write", "read (look, change nothing) or read_write")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("admin create-key: --name is required")
	}
	db, err := openMigrated(ctx, cfg, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer closeDB(db)
	key, err := services.NewAccounts(db, time.Now).CreateAdminKey(ctx, *name, models.Scope(*scope), cliActor())
	if err != nil {
		return err
	}
	// Only the key goes to stdout, so scripts can capture it: ADMIN_KEY=$(withdrawals admin create-key --name ops)
	_, err = fmt.Fprintln(stdout, key.Plaintext)
	return err
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

// reconcileCommand prints the reconciliation report as JSON, the same document as
// GET /api/admin/ledger/reconciliation.
func reconcileCommand(ctx context.Context, cfg config, stdout io.Writer) error {
	db, err := openMigrated(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer closeDB(db)
	report, err := services.NewLedger(db, time.Now).Reconcile(ctx)
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
}
