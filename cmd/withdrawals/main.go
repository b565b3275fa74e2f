// Command withdrawals is the service's one binary:
//
//	withdrawals serve                          run the HTTP API and the background workers
//	withdrawals migrate                        apply database migrations
//	withdrawals admin create-key --name NAME   print a new admin API key
//	withdrawals admin reconcile                check the ledger; exit 1 on any discrepancy
//	withdrawals version                        print the version and build
//
// Configuration is environment variables (config.go; `withdrawals serve --help`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/database"
	"github.com/paycore/withdrawals/internal/logging"
	"github.com/paycore/withdrawals/internal/metrics"
	"github.com/paycore/withdrawals/migrations"
)

const usage = `Usage:
  withdrawals serve                                 run the HTTP API and the background workers
  withdrawals migrate                               apply the database migrations
  withdrawals admin create-key --name NAME [--scope read]
                                                    create an admin API key and print only the key
  withdrawals admin reconcile                       check the ledger; exit 1 on any discrepancy
  withdrawals version                               print the version and build
  withdrawals help                                  print this help

Every command takes --help. Configuration is environment variables:
withdrawals serve --help lists them with their defaults.
`

// version is set at build time (-ldflags "-X main.version=v1.2.3"); otherwise the
// module's version or the commit from the build information is shown.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var exit exitCode
	switch {
	case errors.As(err, &exit):
		os.Exit(int(exit))
	case err != nil:
		fmt.Fprintln(os.Stderr, "withdrawals:", err)
		os.Exit(1)
	}
}

// exitCode ends the program with a code and nothing more to print: help (0), or a
// command line that makes no sense (2), after its usage was printed.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// run is the whole program; main only adds signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "serve":
		fs := commandFlags("serve", "run the HTTP API and the background workers", stdout, stderr, func(w io.Writer) {
			fmt.Fprintln(w, "\nEnvironment variables:")
			printSettings(w)
		})
		if err := parse(fs, args[1:], stdout, stderr); err != nil {
			return err
		}
		return withConfig(func(cfg config) error { return serve(ctx, cfg, logging.New(stderr, cfg.LogLevel), stdout) })
	case "migrate":
		fs := commandFlags("migrate", "apply the database migrations (ours and River's) to DATABASE_URL, creating the database when missing", stdout, stderr, nil)
		if err := parse(fs, args[1:], stdout, stderr); err != nil {
			return err
		}
		return withConfig(func(cfg config) error {
			db, err := openMigrated(ctx, cfg, true)
			if err != nil {
				return err
			}
			logging.New(stderr, cfg.LogLevel).Info("migrations applied", "database", database.Redact(cfg.DatabaseURL))
			return closeDB(db)
		})
	case "admin":
		return adminCommand(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "withdrawals: unknown command %q\n\n%s", args[0], usage)
		return exitCode(2)
	}
}

// commandFlags is a command's flag set, whose usage says what the command does (and
// extra adds to it).
func commandFlags(name, what string, stdout, stderr io.Writer, extra func(io.Writer)) *flag.FlagSet {
	fs := flag.NewFlagSet("withdrawals "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: withdrawals %s [flags]\n\n%s.\n", name, what)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
		if extra != nil {
			extra(w)
		}
	}
	return fs
}

// parse reads a command's flags: --help prints its usage on stdout and ends the program
// with 0; a flag it does not know prints the usage on stderr and ends it with 2. No
// database is touched before this returns nil.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitCode(0)
	case err != nil:
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "withdrawals: %v\n", err)
		fs.Usage()
		return exitCode(2)
	case fs.NArg() > 0:
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "withdrawals: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitCode(2)
	}
	return nil
}

// withConfig reads the configuration and runs fn with it.
func withConfig(fn func(config) error) error {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return err
	}
	return fn(cfg)
}

// buildInfo is what the binary knows of its build: its version (set at build time,
// else the module's), and the commit, its time and the Go version when recorded.
func buildInfo() (b metrics.Build, at string) {
	b.Version = version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b, ""
	}
	if b.Version == "" {
		b.Version = info.Main.Version
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if b.Revision = settings["vcs.revision"]; b.Revision != "" && settings["vcs.modified"] == "true" {
		b.Revision += " (modified)"
	}
	return b, settings["vcs.time"]
}

// versionLine is the version and the build's commit, time and Go version.
func versionLine() string {
	b, at := buildInfo()
	line := "withdrawals " + b.Version
	if b.Revision != "" {
		line += ", commit " + b.Revision
	}
	if at != "" {
		line += ", " + at
	}
	return line + ", " + runtime.Version()
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
