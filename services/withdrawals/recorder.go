package withdrawals

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/groupcommit"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/webhooks"
)

// NewWithdrawal is a priced, validated withdrawal ready to be recorded, with what
// recording it writes besides its row.
type NewWithdrawal struct {
	models.Withdrawal
	NormalizedAddress string              // as the whitelist keeps addresses
	Lock              ledger.Journal      // available -> pending
	Event             models.WebhookEvent // withdrawal.pending
}

// OutcomeKind is what recording did with one withdrawal.
type OutcomeKind int

const (
	Created        OutcomeKind = iota + 1 // written, its amount locked, announced
	NotWhitelisted                        // the whitelist refused the address; nothing written
	KeyBound                              // its idempotency key is bound to another withdrawal; nothing written
	Insufficient                          // the available balance did not cover it; nothing written
)

// Outcome is one withdrawal's outcome.
type Outcome struct {
	Kind      OutcomeKind
	Available decimal.Decimal // the balance it did not fit in (Insufficient)
}

// Recorder writes new withdrawals: each one the whitelist allows and whose key is free
// is inserted, its amount locked through its lock journal and its withdrawal.pending
// event written, all in one transaction, and each gets its own outcome.
type Recorder interface {
	Record(ctx context.Context, ws []NewWithdrawal) ([]Outcome, error)
}

// PipelineRecorder is the Recorder: one pipeline (one round trip, one commit) per call.
type PipelineRecorder struct {
	db     *dbtx.DB
	ledger *ledger.Ledger
	outbox *webhooks.Outbox
}

// NewPipelineRecorder returns the Recorder.
func NewPipelineRecorder(db *dbtx.DB, l *ledger.Ledger, o *webhooks.Outbox) *PipelineRecorder {
	return &PipelineRecorder{db: db, ledger: l, outbox: o}
}

// Record writes ws in arrival order. Per balance, the withdrawals of ws are locked
// together when the balance covers them all; when it does not, they are written again
// one at a time, in arrival order, each while the balance still covers it, as they
// would have been had they come alone.
func (r *PipelineRecorder) Record(ctx context.Context, ws []NewWithdrawal) ([]Outcome, error) {
	refused, inserted, locks, err := r.write(ctx, ws)
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, len(ws))
	var again []int
	for i, w := range ws {
		lock := locks[[2]string{w.MerchantID, w.Token}]
		switch {
		case refused[i]:
			out[i] = Outcome{Kind: NotWhitelisted}
		case !inserted[w.ID]:
			out[i] = Outcome{Kind: KeyBound}
		case lock.Locked:
			out[i] = Outcome{Kind: Created}
		case len(ws) == 1:
			out[i] = Outcome{Kind: Insufficient, Available: lock.Available}
		default:
			again = append(again, i)
		}
	}
	for _, i := range again {
		alone, err := r.Record(ctx, ws[i:i+1])
		if err != nil {
			return nil, err
		}
		out[i] = alone[0]
	}
	return out, nil
}

// write sends one pipeline: every statement sees what the ones before it wrote, and all
// of it commits or none does. It returns the items the whitelist refused, the ids
// inserted, and the lock of each balance concerned.
func (r *PipelineRecorder) write(ctx context.Context, ws []NewWithdrawal) (refused map[int]bool, inserted map[string]bool,
	locks map[[2]string]ledger.LockResult, err error) {
	var c columns
	journals := make([]ledger.Journal, len(ws))
	events := make([]models.WebhookEvent, len(ws))
	for i, w := range ws {
		c.add(i, w)
		journals[i], events[i] = w.Lock, w.Event
	}
	refused, inserted, locks = map[int]bool{}, map[string]bool{}, map[[2]string]ledger.LockResult{}
	var p dbtx.Pipeline

	// The withdrawals the whitelist allows (by its one definition, migrations/00009),
	// and each item's verdict. A key already bound (by an earlier request, a concurrent
	// one that committed first, or an earlier item here) keeps its item out. Rows go in
	// merchant, then key order, so two pipelines waiting on each other's keys cannot
	// deadlock.
	p.Query(`WITH x AS (
			SELECT x.*, whitelist_allows(x.merchant_id, x.token, x.normalized_address, x.created_at) AS allowed
			  FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]::numeric[], $7::text[]::numeric[],
			              $8::text[]::numeric[], $9::text[]::numeric[], $10::text[]::numeric[], $11::text[]::numeric[], $12::text[],
			              $13::text[], $14::text[]::json[], $15::text[], $16::bytea[], $17::timestamptz[], $18::timestamptz[])
			       AS x(i, id, merchant_id, token, network, amount, fee_base, fee_markup_rate, fee_markup_amount, fee_total, net_amount,
			            address, normalized_address, metadata, idempotency_key, request_hash, created_at, estimated_completion)),
		inserted AS (
			INSERT INTO withdrawals (id, merchant_id, token, network, amount, fee_base, fee_markup_rate, fee_markup_amount,
				fee_total, net_amount, address, status, metadata, idempotency_key, request_hash, created_at, updated_at, estimated_completion)
			SELECT id, merchant_id, token, network, amount, fee_base, fee_markup_rate, fee_markup_amount, fee_total, net_amount,
			       address, 'pending', metadata, idempotency_key, request_hash, created_at, created_at, estimated_completion
			  FROM x WHERE allowed
			 ORDER BY merchant_id, idempotency_key, i
			ON CONFLICT (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id)
		SELECT x.i, x.allowed, inserted.id IS NOT NULL FROM x LEFT JOIN inserted USING (id)`, c.args(), func(rows pgx.Rows) error {
		for rows.Next() {
			var i int
			var allowed, in bool
			if err := rows.Scan(&i, &allowed, &in); err != nil {
				return err
			}
			refused[i], inserted[ws[i].ID] = !allowed, in
		}
		return nil
	})

	// Their amounts, locked per balance when the balance covers them all.
	if err := r.ledger.QueueLock(&p, journals, func(results []ledger.LockResult) {
		for _, l := range results {
			locks[[2]string{l.MerchantID, l.Token}] = l
		}
	}); err != nil {
		return nil, nil, nil, err
	}

	// A withdrawal whose amount was not locked is taken out again, in this transaction,
	// so nothing of it is ever visible and its key stays free.
	p.Execute(ctx, `DELETE FROM withdrawals w WHERE w.id = ANY($1::text[])
		AND NOT EXISTS (SELECT 1 FROM ledger_journals j WHERE j.withdrawal_id = w.id)`, c.ids)

	// The withdrawal.pending events of those that stayed, with their deliveries.
	if err := r.outbox.Write(ctx, &p, events, webhooks.Scope{ExistingWithdrawals: true}); err != nil {
		return nil, nil, nil, err
	}

	if err := r.db.Send(ctx, &p); err != nil {
		return nil, nil, nil, err
	}
	return refused, inserted, locks, nil
}

// columns are the withdrawals as the arrays the insert unnests.
type columns struct {
	items                                                          []int
	ids, merchants, tokens, networks, addresses, normalized        []string
	amounts, feeBases, feeRates, feeMarkups, feeTotals, netAmounts []string
	metadata, keys                                                 []*string
	hashes                                                         [][]byte
	createdAt, estimated                                           []time.Time
}

func (c *columns) add(i int, w NewWithdrawal) {
	c.items = append(c.items, i)
	c.ids, c.merchants, c.tokens = append(c.ids, w.ID), append(c.merchants, w.MerchantID), append(c.tokens, w.Token)
	c.networks, c.addresses, c.normalized = append(c.networks, w.Network), append(c.addresses, w.Address), append(c.normalized, w.NormalizedAddress)
	c.amounts, c.feeBases, c.feeRates = append(c.amounts, w.Amount.String()), append(c.feeBases, w.FeeBase.String()), append(c.feeRates, w.FeeMarkupRate.String())
	c.feeMarkups, c.feeTotals, c.netAmounts = append(c.feeMarkups, w.FeeMarkupAmount.String()), append(c.feeTotals, w.FeeTotal.String()), append(c.netAmounts, w.NetAmount.String())
	var metadata *string
	if len(w.Metadata) > 0 {
		m := string(w.Metadata)
		metadata = &m
	}
	c.metadata, c.keys, c.hashes = append(c.metadata, metadata), append(c.keys, w.IdempotencyKey), append(c.hashes, w.RequestHash)
	c.createdAt, c.estimated = append(c.createdAt, w.CreatedAt), append(c.estimated, w.EstimatedCompletion)
}

func (c *columns) args() []any {
	return []any{c.items, c.ids, c.merchants, c.tokens, c.networks, c.amounts, c.feeBases, c.feeRates, c.feeMarkups,
		c.feeTotals, c.netAmounts, c.addresses, c.normalized, c.metadata, c.keys, c.hashes, c.createdAt, c.estimated}
}

// Grouped is a Recorder whose single records, made concurrently, share one Record of
// the recorder under it: one round trip and one commit for all of them (groupcommit).
// A group PostgreSQL refused as a whole is recorded again item by item, so one bad
// item cannot fail its neighbours.
type Grouped struct {
	recorder Recorder
	group    *groupcommit.Group[NewWithdrawal, Outcome]
}

// GroupConfig shapes the grouping.
type GroupConfig struct {
	Writers, MaxGroup int
	Observe           func(items int, seconds float64) // each group's size and write time
}

// NewGrouped starts the group writers over recorder; Close stops them.
func NewGrouped(recorder Recorder, cfg GroupConfig) *Grouped {
	return &Grouped{recorder: recorder, group: groupcommit.New(recorder.Record, groupcommit.Config{
		Writers: cfg.Writers, MaxGroup: cfg.MaxGroup, Observe: cfg.Observe,
		Alone: func(err error) bool {
			var refused *pgconn.PgError
			return errors.As(err, &refused)
		},
	})}
}

// Record records one withdrawal through the group; several at once (a caller's own
// group) go to the recorder directly.
func (g *Grouped) Record(ctx context.Context, ws []NewWithdrawal) ([]Outcome, error) {
	if len(ws) != 1 {
		return g.recorder.Record(ctx, ws)
	}
	o, err := g.group.Do(ws[0])
	return []Outcome{o}, err
}

// Close writes what is queued and stops the group writers.
func (g *Grouped) Close() { g.group.Close() }
