package ledger

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	var j journalRows
	var e entryRows
	for _, jr := range journals {
		entries, err := jr.entries()
		if err != nil {
			return err
		}
		j.add(jr)
		e.add(entries)
	}
	err := ex.Execute(ctx, `
		WITH j AS (
			INSERT INTO ledger_journals (id, kind, merchant_id, token, withdrawal_id, reference, created_by, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[]))
		INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at)
		SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::text[]::numeric[], $13::timestamptz[])`,
		append(j.args(), e.args()...)...)
	if err != nil {
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
	n, err := tx.ExecuteCount(ctx, `
		WITH d AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]::numeric[], $4::text[]::numeric[], $5::timestamptz[])
		             AS d(merchant_id, token, available, pending, at)),
		locked AS MATERIALIZED (SELECT b.merchant_id, b.token FROM balances b JOIN d USING (merchant_id, token)
		                         ORDER BY b.merchant_id, b.token FOR UPDATE OF b)
		UPDATE balances b SET available = b.available + d.available, pending = b.pending + d.pending, updated_at = d.at
		FROM d JOIN locked USING (merchant_id, token)
		WHERE b.merchant_id = d.merchant_id AND b.token = d.token`, d.args()...)
	tx.AfterCommit(func() { l.cache.Invalidate(d.merchants...) })
	if err != nil {
		return fmt.Errorf("ledger: move balances: %w", err)
	}
	if n != int64(len(d.merchants)) {
		return fmt.Errorf("ledger: move balances: %d balance rows for %d merchant tokens", n, len(d.merchants))
	}
	return nil
}

// LockResult is what locking a group of new withdrawals did to one balance.
type LockResult struct {
	MerchantID, Token string
	Available         decimal.Decimal // before the lock
	Locked            bool            // every withdrawal of the balance fitted and was locked
}

// QueueLock queues, in a pipeline, the lock of new withdrawals: per balance, when the
// available amount covers all of them, the balance moves by their lock journals and the
// journals are posted; otherwise nothing of that balance changes. Only journals whose
// withdrawal exists by then count (an earlier statement of the pipeline may not have
// inserted it). read gets one result per balance concerned.
func (l *Ledger) QueueLock(p *dbtx.Pipeline, journals []Journal, read func([]LockResult)) error {
	var j journalRows
	var e entryRows
	var avail, pend []string
	for _, jr := range journals {
		entries, err := jr.entries()
		if err != nil {
			return err
		}
		a, pd := jr.balanceDelta()
		j.add(jr)
		e.add(entries)
		avail, pend = append(avail, a.String()), append(pend, pd.String())
	}
	args := append(j.args(), e.args()...)
	args = append(args, avail, pend)
	p.Query(`
		WITH x AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		                                 $8::timestamptz[], $14::text[]::numeric[], $15::text[]::numeric[])
		             AS x(id, kind, merchant_id, token, withdrawal_id, reference, created_by, created_at, available, pending)
		            WHERE EXISTS (SELECT 1 FROM withdrawals w WHERE w.id = x.withdrawal_id)),
		d AS (SELECT merchant_id, token, sum(available) AS available, sum(pending) AS pending, max(created_at) AS at
		        FROM x GROUP BY merchant_id, token),
		locked AS MATERIALIZED (SELECT b.merchant_id, b.token, b.available FROM balances b JOIN d USING (merchant_id, token)
		                         ORDER BY b.merchant_id, b.token FOR UPDATE OF b),
		moved AS (UPDATE balances b SET available = b.available + d.available, pending = b.pending + d.pending, updated_at = d.at
		            FROM d JOIN locked l USING (merchant_id, token)
		           WHERE b.merchant_id = d.merchant_id AND b.token = d.token AND l.available + d.available >= 0
		          RETURNING b.merchant_id, b.token),
		j AS (INSERT INTO ledger_journals (id, kind, merchant_id, token, withdrawal_id, reference, created_by, created_at)
		      SELECT x.id, x.kind, x.merchant_id, x.token, x.withdrawal_id, x.reference, x.created_by, x.created_at
		        FROM x JOIN moved USING (merchant_id, token)
		      RETURNING id),
		e AS (INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at)
		      SELECT e.* FROM unnest($9::text[], $10::text[], $11::text[], $12::text[]::numeric[], $13::timestamptz[])
		                      AS e(id, journal_id, account_id, amount, created_at)
		        JOIN j ON j.id = e.journal_id)
		SELECT d.merchant_id, d.token, COALESCE(l.available, 0), m.merchant_id IS NOT NULL
		  FROM d LEFT JOIN locked l USING (merchant_id, token) LEFT JOIN moved m USING (merchant_id, token)`,
		args, func(rows pgx.Rows) error {
			var out []LockResult
			for rows.Next() {
				var r LockResult
				var available string
				if err := rows.Scan(&r.MerchantID, &r.Token, &available, &r.Locked); err != nil {
					return err
				}
				r.Available = decimal.RequireFromString(available)
				out = append(out, r)
			}
			read(out)
			return nil
		})
	merchants := make([]string, len(journals))
	for i, jr := range journals {
		merchants[i] = jr.MerchantID
	}
	p.AfterCommit(func() { l.cache.Invalidate(merchants...) })
	return nil
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

// journalRows and entryRows are journals and entries as the columns PostgreSQL unnests.
type journalRows struct {
	ids, kinds, merchants, tokens      []string
	withdrawals, references, createdBy []*string
	at                                 []time.Time
}

func (r *journalRows) add(j Journal) {
	r.ids, r.kinds = append(r.ids, j.ID), append(r.kinds, string(j.Kind))
	r.merchants, r.tokens = append(r.merchants, j.MerchantID), append(r.tokens, j.Token)
	r.withdrawals, r.references, r.createdBy = append(r.withdrawals, j.WithdrawalID), append(r.references, j.Reference), append(r.createdBy, j.CreatedBy)
	r.at = append(r.at, j.CreatedAt)
}

func (r *journalRows) args() []any {
	return []any{r.ids, r.kinds, r.merchants, r.tokens, r.withdrawals, r.references, r.createdBy, r.at}
}

type entryRows struct {
	ids, journals, accounts, amounts []string
	at                               []time.Time
}

func (r *entryRows) add(entries []models.LedgerEntry) {
	for _, e := range entries {
		r.ids, r.journals, r.accounts = append(r.ids, e.ID), append(r.journals, e.JournalID), append(r.accounts, e.AccountID)
		r.amounts, r.at = append(r.amounts, e.Amount.String()), append(r.at, e.CreatedAt)
	}
}

func (r *entryRows) args() []any { return []any{r.ids, r.journals, r.accounts, r.amounts, r.at} }

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
