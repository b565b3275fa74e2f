package ledger

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm/clause"

	"github.com/paycore/withdrawals/internal/balancecache"
	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/metrics"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
)

// Balance is a merchant's balance in one token.
type Balance struct {
	Token     string
	Available decimal.Decimal
	Pending   decimal.Decimal
}

// Total is what the merchant owns in the token, locked or not.
func (b Balance) Total() decimal.Decimal { return b.Available.Add(b.Pending) }

// Ledger posts journals, moves balances and reads them.
type Ledger struct {
	db      *dbtx.DB
	clock   services.Clock
	catalog *catalog.Catalog
	// cache holds merchants' balance rows for BALANCE_CACHE_TTL; every balance change
	// made here drops its merchants once its transaction ends. nil caches nothing.
	cache   *balancecache.Cache[[]Balance]
	metrics *metrics.Metrics
}

// New wires the ledger.
func New(db *dbtx.DB, clock services.Clock, cat *catalog.Catalog, cache *balancecache.Cache[[]Balance], m *metrics.Metrics) *Ledger {
	return &Ledger{db: db, clock: clock, catalog: cat, cache: cache, metrics: m}
}

// Post writes journals and their entries, in one statement whatever their number.
func Post(ctx context.Context, ex dbtx.Execer, journals []Journal) error {
	if len(journals) == 0 {
		return nil
	}
	c, err := ColumnsOf(journals)
	if err != nil {
		return err
	}
	if err := ex.Execute(ctx, `
		WITH j AS (
			INSERT INTO ledger_journals (id, kind, merchant_id, token, withdrawal_id, reference, created_by, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[]))
		INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at)
		SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::text[]::numeric[], $13::timestamptz[])`,
		append(c.JournalArgs(), c.EntryArgs()...)...); err != nil {
		return fmt.Errorf("ledger: post %d journals: %w", len(journals), err)
	}
	return nil
}

// Apply posts journals and moves the merchants' balances by their legs, in the
// caller's transaction. The balance rows are locked first in merchant and token order,
// the order every writer locks them in, so concurrent writers queue instead of
// deadlocking; the CHECKs on balances refuse any balance that would go negative. The
// merchants' cached balances are dropped once the transaction ends.
func (l *Ledger) Apply(ctx context.Context, tx *dbtx.Tx, journals []Journal) error {
	if len(journals) == 0 {
		return nil
	}
	if err := Post(ctx, tx, journals); err != nil {
		return err
	}
	d := deltas(journals)
	l.Moved(tx, d.merchants...)
	n, err := tx.ExecuteCount(ctx, `
		WITH d AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]::numeric[], $4::text[]::numeric[], $5::timestamptz[])
		             AS d(merchant_id, token, available, pending, at)),
		locked AS MATERIALIZED (SELECT b.merchant_id, b.token FROM balances b JOIN d USING (merchant_id, token)
		                         ORDER BY b.merchant_id, b.token FOR UPDATE OF b)
		UPDATE balances b SET available = b.available + d.available, pending = b.pending + d.pending, updated_at = d.at
		FROM d JOIN locked USING (merchant_id, token)
		WHERE b.merchant_id = d.merchant_id AND b.token = d.token`, d.args()...)
	if err != nil {
		return fmt.Errorf("ledger: move balances: %w", err)
	}
	if n != int64(len(d.merchants)) {
		return fmt.Errorf("ledger: move balances: %d balance rows for %d merchant tokens", n, len(d.merchants))
	}
	return nil
}

// Moved registers, on the transaction or pipeline that moves the merchants' balances,
// that their cached balances are dropped once it ends. Apply registers it itself; a
// writer that moves balances in its own statement (withdrawal creation) calls it.
func (l *Ledger) Moved(ex dbtx.Execer, merchantIDs ...string) {
	ex.AfterCommit(func() { l.cache.Invalidate(merchantIDs...) })
}

// OpenAccounts creates a merchant's ledger accounts and zero balance rows for the
// tokens; existing ones are left as they are.
func OpenAccounts(tx *dbtx.Tx, merchantID string, tokens []string, now time.Time) error {
	if len(tokens) == 0 {
		return nil
	}
	accounts := make([]models.LedgerAccount, 0, 2*len(tokens))
	balances := make([]models.Balance, 0, len(tokens))
	for _, token := range tokens {
		mid := merchantID
		accounts = append(accounts,
			models.LedgerAccount{ID: MerchantAvailable(merchantID, token), Kind: models.AccountMerchantAvailable, MerchantID: &mid, Token: token, CreatedAt: now},
			models.LedgerAccount{ID: MerchantPending(merchantID, token), Kind: models.AccountMerchantPending, MerchantID: &mid, Token: token, CreatedAt: now})
		balances = append(balances, models.Balance{MerchantID: merchantID, Token: token, Available: decimal.Zero, Pending: decimal.Zero, UpdatedAt: now})
	}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&accounts).Error; err != nil {
		return fmt.Errorf("ledger: open accounts: %w", err)
	}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&balances).Error; err != nil {
		return fmt.Errorf("ledger: open balances: %w", err)
	}
	return nil
}

// Balances returns one row per enabled token, zero where the merchant holds nothing:
// from the cache when it holds the merchant, else from the database.
func (l *Ledger) Balances(ctx context.Context, merchantID string) ([]Balance, error) {
	tokens, err := l.catalog.Enabled(ctx)
	if err != nil {
		return nil, err
	}
	held, cached, ticket := l.cache.Get(merchantID)
	l.metrics.ObserveBalanceRead(cached)
	if !cached {
		held = []Balance{}
		if err := l.db.Gorm(ctx).Raw(`SELECT token, available, pending FROM balances WHERE merchant_id = ?`, merchantID).Scan(&held).Error; err != nil {
			return nil, fmt.Errorf("list balances: %w", err)
		}
		l.cache.Put(merchantID, held, ticket)
	}
	out := make([]Balance, len(tokens))
	for i, t := range tokens {
		out[i] = Balance{Token: t, Available: decimal.Zero, Pending: decimal.Zero}
		for _, b := range held {
			if b.Token == t {
				out[i] = b
			}
		}
	}
	return out, nil
}

// Columns are journals, their entries and what each changes in its merchant's
// balance, as the arrays PostgreSQL unnests.
type Columns struct {
	ids, kinds, merchants, tokens      []string
	withdrawals, references, createdBy []*string
	at                                 []time.Time
	available, pending                 []string // each journal's balance delta

	entryIDs, entryJournals, entryAccounts, entryAmounts []string
	entryAt                                              []time.Time
}

// ColumnsOf lays journals out as columns; a journal that does not balance is refused.
func ColumnsOf(journals []Journal) (Columns, error) {
	var c Columns
	for _, j := range journals {
		entries, err := j.entries()
		if err != nil {
			return c, err
		}
		a, p := j.balanceDelta()
		c.ids, c.kinds = append(c.ids, j.ID), append(c.kinds, string(j.Kind))
		c.merchants, c.tokens = append(c.merchants, j.MerchantID), append(c.tokens, j.Token)
		c.withdrawals, c.references, c.createdBy = append(c.withdrawals, j.WithdrawalID), append(c.references, j.Reference), append(c.createdBy, j.CreatedBy)
		c.at, c.available, c.pending = append(c.at, j.CreatedAt), append(c.available, a.String()), append(c.pending, p.String())
		for _, e := range entries {
			c.entryIDs, c.entryJournals, c.entryAccounts = append(c.entryIDs, e.ID), append(c.entryJournals, e.JournalID), append(c.entryAccounts, e.AccountID)
			c.entryAmounts, c.entryAt = append(c.entryAmounts, e.Amount.String()), append(c.entryAt, e.CreatedAt)
		}
	}
	return c, nil
}

// JournalArgs are the journals' columns: id, kind, merchant_id, token, withdrawal_id,
// reference, created_by, created_at.
func (c Columns) JournalArgs() []any {
	return []any{c.ids, c.kinds, c.merchants, c.tokens, c.withdrawals, c.references, c.createdBy, c.at}
}

// DeltaArgs are each journal's change to its merchant's available and pending balance
// (text, to cast to numeric).
func (c Columns) DeltaArgs() []any { return []any{c.available, c.pending} }

// EntryArgs are the entries' columns: id, journal_id, account_id, amount (text, to cast
// to numeric), created_at.
func (c Columns) EntryArgs() []any {
	return []any{c.entryIDs, c.entryJournals, c.entryAccounts, c.entryAmounts, c.entryAt}
}

// balanceDeltas is what journals change per merchant balance, in merchant and token order.
type balanceDeltas struct {
	merchants, tokens, available, pending []string
	at                                    []time.Time
}

func deltas(journals []Journal) balanceDeltas {
	type key struct{ merchant, token string }
	type delta struct {
		available, pending decimal.Decimal
		at                 time.Time
	}
	sums := map[key]delta{}
	for _, j := range journals {
		a, p := j.balanceDelta()
		k := key{j.MerchantID, j.Token}
		d := sums[k]
		d.available, d.pending = d.available.Add(a), d.pending.Add(p)
		if j.CreatedAt.After(d.at) {
			d.at = j.CreatedAt
		}
		sums[k] = d
	}
	var out balanceDeltas
	for _, k := range slices.SortedFunc(maps.Keys(sums), func(a, b key) int {
		return cmp.Or(strings.Compare(a.merchant, b.merchant), strings.Compare(a.token, b.token))
	}) {
		d := sums[k]
		out.merchants, out.tokens = append(out.merchants, k.merchant), append(out.tokens, k.token)
		out.available, out.pending = append(out.available, d.available.String()), append(out.pending, d.pending.String())
		out.at = append(out.at, d.at)
	}
	return out
}

func (d balanceDeltas) args() []any {
	return []any{d.merchants, d.tokens, d.available, d.pending, d.at}
}
