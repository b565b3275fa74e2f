// Command ownref prepares the second pgbench reference of make bench: the database
// doing this service's own work, call by call. On a database the service's migrations
// made, it seeds merchants as loadgen does (1,000 and a hot one, each credited through
// the service's own accounts code), prepares a withdrawal as the API would for
// loadgen's request (withdrawals.Service.Prepare), takes the statements the service
// sends to record it (withdrawals.PipelineRecorder.Statements) and writes them into
// -out as pgbench scripts, one withdrawal per transaction in one pipeline, as the
// service sends a group: own_spread.sql (a random merchant of 1,000) and own_hot.sql
// (the hot merchant). Each transaction's ids (withdrawal, journal, entries, event,
// idempotency key) get a random suffix and the merchant is looked up by number first,
// one more round trip the service does not make.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"

	"github.com/paycore/withdrawals/internal/app"
	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/internal/database"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/address"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/pricing"
	"github.com/paycore/withdrawals/services/webhooks"
	"github.com/paycore/withdrawals/services/withdrawals"
)

func main() {
	databaseURL := flag.String("database-url", os.Getenv("DATABASE_URL"), "a database the service's migrations made")
	out := flag.String("out", ".", "where the scripts are written")
	merchants := flag.Int("merchants", 1000, "merchants the spread script picks from (loadgen's -merchants)")
	flag.Parse()
	if err := run(context.Background(), *databaseURL, *out, *merchants); err != nil {
		fmt.Fprintln(os.Stderr, "ownref:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, databaseURL, out string, merchants int) error {
	db, err := database.Open(ctx, databaseURL, 8)
	if err != nil {
		return err
	}
	admin, err := app.NewAdmin(db, time.Now)
	if err != nil {
		return err
	}
	// Merchants 1..merchants for the spread, merchants+1 the hot one, as loadgen seeds them.
	ids := make([]string, merchants+1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range ids {
		g.Go(func() error {
			m, err := admin.Accounts.CreateMerchant(gctx, "ownref-"+strconv.Itoa(i+1), "ownref")
			if err != nil {
				return err
			}
			ids[i] = m.ID
			_, err = admin.Accounts.Credit(gctx, accounts.CreditInput{MerchantID: m.ID, Token: "USDT",
				Amount: decimal.NewFromInt(1_000_000_000), Reference: "ownref", Actor: "ownref"})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := db.Exec(`CREATE TABLE ownref_merchants (n int PRIMARY KEY, id text NOT NULL)`).Error; err != nil {
		return err
	}
	if err := db.Exec(`INSERT INTO ownref_merchants SELECT n, id FROM unnest(?::text[]) WITH ORDINALITY AS m(id, n)`,
		"{"+strings.Join(ids, ",")+"}").Error; err != nil {
		return err
	}

	tx, err := dbtx.New(db)
	if err != nil {
		return err
	}
	tokens := catalog.New(db, time.Now)
	validator, err := address.NewValidator(address.Networks{})
	if err != nil {
		return err
	}
	service := withdrawals.New(tx, time.Now, pricing.New(tx, time.Now, tokens), validator, nil, nil, time.Minute, time.Hour)
	metadata, _ := json.Marshal(map[string]any{"orderId": "bench"})
	w, err := service.Prepare(ctx, withdrawals.CreateInput{MerchantID: ids[0], Token: "USDT", Amount: decimal.NewFromInt(10),
		Address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", Metadata: metadata, IdempotencyKey: "bench-1", KeyID: "key_ownref"})
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	recorder := withdrawals.NewPipelineRecorder(tx, ledger.New(tx, time.Now, tokens, nil, nil), webhooks.NewOutbox(6))
	statements, err := recorder.Statements(ctx, []withdrawals.NewWithdrawal{w})
	if err != nil {
		return err
	}
	vary := append([]string{w.ID, w.Lock.ID, w.Event.ID, *w.IdempotencyKey}, entryIDs(statements)...)
	body := script(statements, ids[0], vary)
	for name, pick := range map[string]string{
		"own_spread": fmt.Sprintf(`\set m random(1, %d)`, merchants),
		"own_hot":    fmt.Sprintf(`\set m %d`, merchants+1),
	} {
		text := "-- " + name + ": one withdrawal recorded with the service's own statements (bench/cmd/ownref).\n" +
			pick + "\n\\set k random(1, 9223372036854775807)\n" +
			"SELECT id AS mid FROM ownref_merchants WHERE n = :m \\gset\n" + body
		if err := os.WriteFile(filepath.Join(out, name+".sql"), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

var entryID = regexp.MustCompile(`^ent_[0-9A-Za-z]+$`)

// entryIDs finds the ledger entries' ids among the statements' arguments.
func entryIDs(statements []dbtx.Statement) []string {
	var out []string
	for _, s := range statements {
		for _, a := range s.Args {
			if list, ok := a.([]string); ok {
				for _, v := range list {
					if entryID.MatchString(v) && !slices.Contains(out, v) {
						out = append(out, v)
					}
				}
			}
		}
	}
	return out
}

var placeholder = regexp.MustCompile(`\$(\d+)\b`)

// script is the statements in one pipeline, each argument written as a literal in which
// the merchant's id becomes :mid and each of vary its value with :k appended.
func script(statements []dbtx.Statement, merchantID string, vary []string) string {
	var b strings.Builder
	b.WriteString("\\startpipeline\n")
	for _, s := range statements {
		sql := placeholder.ReplaceAllStringFunc(s.SQL, func(p string) string {
			n, _ := strconv.Atoi(p[1:])
			return literal(s.Args[n-1], merchantID, vary)
		})
		b.WriteString(strings.TrimSpace(sql) + ";\n")
	}
	b.WriteString("\\endpipeline\n")
	return b.String()
}

func literal(v any, merchantID string, vary []string) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return text(x, merchantID, vary)
	case *string:
		if x == nil {
			return "NULL"
		}
		return text(*x, merchantID, vary)
	case []byte:
		if x == nil {
			return "NULL"
		}
		return `'\x` + hex.EncodeToString(x) + `'::bytea`
	case time.Time:
		return fmt.Sprintf("to_timestamp(%d.%06d)", x.Unix(), x.Nanosecond()/1000)
	case bool, int, int32, int64:
		return fmt.Sprint(x)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		panic(fmt.Sprintf("ownref: an argument of type %T", v))
	}
	items := make([]string, rv.Len())
	for i := range items {
		items[i] = literal(rv.Index(i).Interface(), merchantID, vary)
	}
	return "ARRAY[" + strings.Join(items, ", ") + "]"
}

// text is a string literal with the merchant and the varying ids spliced in.
func text(s, merchantID string, vary []string) string {
	var parts []string
	for s != "" {
		at, what := -1, ""
		for _, m := range append([]string{merchantID}, vary...) {
			if i := strings.Index(s, m); i >= 0 && (at < 0 || i < at) {
				at, what = i, m
			}
		}
		if at < 0 {
			parts = append(parts, quote(s))
			break
		}
		if at > 0 {
			parts = append(parts, quote(s[:at]))
		}
		if what == merchantID {
			parts = append(parts, "(:mid)::text")
		} else {
			parts = append(parts, quote(what), "(:k)::text")
		}
		s = s[at+len(what):]
	}
	if len(parts) == 0 {
		return "''"
	}
	return "(" + strings.Join(parts, " || ") + ")::text"
}

// quote writes s as a literal. pgbench takes a colon followed by a name as a variable
// even inside a literal, so every colon stands apart: ':' is followed by a quote.
func quote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, "'", "''"), ":", "' || ':' || '") + "'"
}
