// Package migrations owns the database schema: versioned SQL files embedded in the
// binary and applied in order by goose, then River's job-queue tables. Schema changes
// are new files, never edits.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// Up applies every migration not yet applied. It is safe to run from several
// processes at once: goose takes a session lock while it works.
func Up(ctx context.Context, db *sql.DB) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrations: apply: %w", err)
	}
	// River's own tables (the job queue), versioned by River itself.
	migrator, err := rivermigrate.New(riverdatabasesql.New(db), nil)
	if err != nil {
		return fmt.Errorf("migrations: river: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrations: river: %w", err)
	}
	return nil
}

// RiverVersion is the River release whose migrations Up applies; it is part of the
// schema's identity (test templates are keyed on it).
const RiverVersion = "v0.51.2"

// Files exposes the embedded SQL, so test helpers can key template databases on it.
func Files() embed.FS { return files }
