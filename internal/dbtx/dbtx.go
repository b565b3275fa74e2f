// Package dbtx runs the service's transactions: GORM transactions for the use cases, and
// pipelines (statements sent in one round trip, run in one implicit transaction) for
// withdrawal creation. Code inside either registers what must follow the transaction's
// end with AfterCommit, so a cache is dropped by the write that makes it stale and by
// nothing else.
package dbtx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// DB is the service's database.
type DB struct {
	gorm *gorm.DB
	sql  *sql.DB
}

// New wraps a GORM handle opened by internal/database (pgx's database/sql driver).
func New(db *gorm.DB) (*DB, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	return &DB{gorm: db, sql: sqlDB}, nil
}

// Gorm is the handle for reads and single statements, which need no transaction.
func (d *DB) Gorm(ctx context.Context) *gorm.DB { return d.gorm.WithContext(ctx) }

// SQL is the connection pool under it.
func (d *DB) SQL() *sql.DB { return d.sql }

// Execer runs a statement with $n placeholders: at once in a Tx, queued in a Pipeline.
// Statements written against it run unchanged in either.
type Execer interface {
	Execute(ctx context.Context, query string, args ...any) error
	AfterCommit(fn func())
}

// ended holds the functions to run once a transaction has ended.
type ended []func()

// AfterCommit runs fn once the transaction has ended: after its commit, and also after
// a failure, since a commit whose answer was lost may have happened (so fn must be
// harmless when nothing changed, as dropping a cache entry is).
func (e *ended) AfterCommit(fn func()) { *e = append(*e, fn) }

func (e ended) run() {
	for _, fn := range e {
		fn()
	}
}

// Tx is a GORM transaction with its after-commit functions.
type Tx struct {
	*gorm.DB
	ended
}

// Execute runs a statement on the transaction's connection as written: $n placeholders,
// slices bound as PostgreSQL arrays (GORM would expand them into lists).
func (t *Tx) Execute(ctx context.Context, query string, args ...any) error {
	_, err := t.ExecuteCount(ctx, query, args...)
	return err
}

// ExecuteCount is Execute that also reports the rows affected.
func (t *Tx) ExecuteCount(ctx context.Context, query string, args ...any) (int64, error) {
	sqlTx, ok := t.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return 0, errors.New("dbtx: not in a transaction")
	}
	res, err := sqlTx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SQLTx is the database/sql transaction under it, which River inserts jobs into.
func (t *Tx) SQLTx() *sql.Tx {
	sqlTx, _ := t.Statement.ConnPool.(*sql.Tx)
	return sqlTx
}

// Transaction runs fn in a transaction, then the functions it registered.
func (d *DB) Transaction(ctx context.Context, fn func(tx *Tx) error, opts ...*sql.TxOptions) error {
	tx := &Tx{}
	err := d.gorm.WithContext(ctx).Transaction(func(g *gorm.DB) error {
		tx.DB = g
		return fn(tx)
	}, opts...)
	tx.run()
	return err
}

// Pipeline is statements sent in one round trip and run in one implicit transaction:
// all of them commit, or none. Each statement sees what the ones before it wrote.
type Pipeline struct {
	batch pgx.Batch
	ended
}

// Query queues a statement whose rows fn reads once the pipeline ran.
func (p *Pipeline) Query(query string, args []any, fn func(pgx.Rows) error) {
	p.batch.Queue(query, args...).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		if err := fn(rows); err != nil {
			return err
		}
		return rows.Err()
	})
}

// Statement is a queued statement with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// Statements lists what the pipeline would send, in order.
func (p *Pipeline) Statements() []Statement {
	out := make([]Statement, len(p.batch.QueuedQueries))
	for i, q := range p.batch.QueuedQueries {
		out[i] = Statement{SQL: q.SQL, Args: q.Arguments}
	}
	return out
}

// Execute queues a statement.
func (p *Pipeline) Execute(_ context.Context, query string, args ...any) error {
	p.batch.Queue(query, args...)
	return nil
}

// Send runs the pipeline on a pooled connection, then the functions it registered. An
// error from the server rolls back every statement; any other error (a lost
// connection) leaves the outcome unknown.
func (d *DB) Send(ctx context.Context, p *Pipeline) error {
	defer p.run()
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("dbtx: connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("dbtx: driver connection is %T, not pgx", driverConn)
		}
		return c.Conn().SendBatch(ctx, &p.batch).Close()
	})
}
