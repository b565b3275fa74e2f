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
	// Held is Event's other form, withdrawal.approval_required with the same id, written
	// instead when an approval rule holds the withdrawal (approval_hold, migrations/00015).
	Held models.WebhookEvent
}

// OutcomeKind is what recording did with one withdrawal.
type OutcomeKind int

const (
	Created        OutcomeKind = iota + 1 // written, its amount locked, announced
	NotWhitelisted                        // the whitelist refused the address; nothing written
	Frozen                                // the merchant's payouts are frozen; nothing written
	KeyBound                              // its idempotency key is bound to another withdrawal; nothing written
	Insufficient                          // the available balance did not cover it; nothing written
	LimitExceeded                         // it would break one of the merchant's limits; nothing written
	ReferenceTaken                        // its reference is another withdrawal's; nothing written
)

// Outcome is one withdrawal's outcome.
type Outcome struct {
	Kind      OutcomeKind
	Available decimal.Decimal // the balance it did not fit in (Insufficient)
	Breach    *Breach         // the limit it would break (LimitExceeded)
	Hold      *Hold           // why it waits for approval (Created as pending_approval)
}

// Hold is why a new withdrawal waits for approval, and how many it needs.
type Hold struct {
	Approvals int
	Reason    string // amount or new_address
}

// Breach is a limit a withdrawal would break: per_withdrawal, per_day or per_week, the
// limit, and what remained of it.
type Breach struct {
	Kind             string
	Limit, Remaining decimal.Decimal
}

// Recorder writes new withdrawals: each one the whitelist allows and whose key is free
// is inserted, its amount locked through its lock journal and its withdrawal.pending
// event written, all in one transaction, and each gets its own outcome.
type Recorder interface {
	Record(ctx context.Context, ws []NewWithdrawal) ([]Outcome, error)
	RecordBatch(ctx context.Context, b models.BatchRequest, ws []NewWithdrawal) ([]Outcome, error)
}

// ErrBatchIncomplete: a batch request's transaction was rolled back because an item
// was not recorded; the outcomes say which and why.
var ErrBatchIncomplete = errors.New("batch request not recorded whole")

// PipelineRecorder is the Recorder: statements sent together, one round trip and one
// commit per call. The first writes the withdrawals, the second locks their balances,
// the third moves them and writes the rest. The withdrawals' own rows are written
// before anyone waits for a balance.
type PipelineRecorder struct {
	db     *dbtx.DB
	ledger *ledger.Ledger
	outbox *webhooks.Outbox
}

// NewPipelineRecorder returns the Recorder.
func NewPipelineRecorder(db *dbtx.DB, l *ledger.Ledger, o *webhooks.Outbox) *PipelineRecorder {
	return &PipelineRecorder{db: db, ledger: l, outbox: o}
}

// Record writes ws. Per balance, the withdrawals of ws are locked together when the
// balance covers them all; when it does not, they are taken out again (in the same
// transaction: nothing of them is ever visible) and recorded one at a time, in arrival
// order, each while the balance still covers it, as they would have been had they come
// alone.
func (r *PipelineRecorder) Record(ctx context.Context, ws []NewWithdrawal) ([]Outcome, error) {
	verdicts, err := r.write(ctx, ws, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, len(ws))
	var again []int
	for i, v := range verdicts {
		if out[i] = v.outcome(len(ws) == 1); out[i].Kind == 0 {
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

// RecordBatch records a batch request and its withdrawals in one transaction, all of
// them or, with ErrBatchIncomplete, none: the outcomes then say which were refused
// (their kinds) and which would have been created (Created). Every withdrawal of ws
// carries the request's id.
func (r *PipelineRecorder) RecordBatch(ctx context.Context, b models.BatchRequest, ws []NewWithdrawal) ([]Outcome, error) {
	verdicts, err := r.write(ctx, ws, &b)
	var incomplete *pgconn.PgError
	if err != nil && !(errors.As(err, &incomplete) && incomplete.Code == "WB001") {
		return nil, err
	}
	out := make([]Outcome, len(ws))
	for i, v := range verdicts {
		out[i] = v.outcome(true) // a balance refuses the request's withdrawals together
	}
	if err != nil {
		return out, ErrBatchIncomplete
	}
	return out, nil
}

// verdict is what the pipeline did with one withdrawal.
type verdict struct {
	frozen    bool            // the merchant's payouts are frozen
	allowed   bool            // by the whitelist
	taken     bool            // its reference is another withdrawal's
	inserted  bool            // allowed, and its key and reference were free
	hold      *Hold           // inserted as pending_approval
	locked    bool            // inserted, and its balance covered every inserted withdrawal of ws in it
	available decimal.Decimal // its balance before, when it did not
	breach    *Breach         // the limit its balance's withdrawals would break, when they would
}

// outcome is the verdict's outcome. Refused by its balance together with others (not
// alone), it has none: alone it might have fitted.
func (v verdict) outcome(alone bool) Outcome {
	switch {
	case v.frozen:
		return Outcome{Kind: Frozen}
	case !v.allowed:
		return Outcome{Kind: NotWhitelisted}
	case v.taken:
		return Outcome{Kind: ReferenceTaken}
	case !v.inserted:
		return Outcome{Kind: KeyBound}
	case v.locked:
		return Outcome{Kind: Created, Hold: v.hold}
	case alone && v.breach != nil:
		return Outcome{Kind: LimitExceeded, Breach: v.breach}
	case alone:
		return Outcome{Kind: Insufficient, Available: v.available}
	}
	return Outcome{}
}

// write sends the pipeline and returns each withdrawal's verdict, in order. With b, the
// batch request is written first and the transaction fails (WB001) unless every
// withdrawal was recorded; the verdicts are returned with that error.
func (r *PipelineRecorder) write(ctx context.Context, ws []NewWithdrawal, b *models.BatchRequest) ([]verdict, error) {
	p, read, err := r.pipeline(ctx, ws, b)
	if err != nil {
		return nil, err
	}
	err = r.db.Send(ctx, p)
	if err != nil && b == nil {
		return nil, err
	}
	// A batch request's verdicts were read before its last statement failed.
	return read(), err
}

// Statements are the statements Record sends for ws in one transaction, with their
// arguments, unsent: make bench runs them under pgbench, one withdrawal per
// transaction, as the reference of the database doing this service's own work.
func (r *PipelineRecorder) Statements(ctx context.Context, ws []NewWithdrawal) ([]dbtx.Statement, error) {
	p, _, err := r.pipeline(ctx, ws, nil)
	if err != nil {
		return nil, err
	}
	return p.Statements(), nil
}

// pipeline queues the statements that record ws (and b, a mass payout), and returns
// them with the function that reads the verdicts once they ran.
func (r *PipelineRecorder) pipeline(ctx context.Context, ws []NewWithdrawal, b *models.BatchRequest) (*dbtx.Pipeline, func() []verdict, error) {
	var c columns
	var events webhooks.EventColumns
	var heldTypes, heldPayloads []string
	journals := make([]ledger.Journal, len(ws))
	merchants := make([]string, len(ws))
	for i, w := range ws {
		c.add(i, w)
		events.Add(w.Event)
		heldTypes, heldPayloads = append(heldTypes, w.Held.Type), append(heldPayloads, string(w.Held.Payload))
		journals[i], merchants[i] = w.Lock, w.MerchantID
	}
	locks, err := ledger.ColumnsOf(journals)
	if err != nil {
		return nil, nil, err
	}
	verdicts := make([]verdict, len(ws))
	var p dbtx.Pipeline
	// The statements' plans are made once per connection and reused: planned per call
	// with the arrays' sizes known, they cost PostgreSQL more than the writes themselves.
	// A plan made once may be made while the tables are still small; every table these
	// statements touch is reached by key, so a plan that scans a whole table is never the
	// right one at any size (and with sequential scans priced out, no plan is worth
	// compiling).
	p.Execute(ctx, `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
	                       set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)`)
	if b != nil {
		p.Execute(ctx, `
			INSERT INTO withdrawal_batch_requests (id, merchant_id, mode, idempotency_key, request_hash, items_received,
				items_created, outcomes, created_by_key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			b.ID, b.MerchantID, b.Mode, b.IdempotencyKey, b.RequestHash, b.ItemsReceived, len(ws), string(b.Outcomes), b.CreatedByKey, b.CreatedAt)
	}

	// The withdrawals admitted (not frozen, allowed by the whitelist: their one
	// definition, admission_verdicts in migrations/00013), each as pending or, when an
	// approval rule holds it (approval_hold, migrations/00015), pending_approval, and
	// each item's verdict. A key already bound (by an earlier request, a concurrent one
	// that committed first, or an earlier item here), or a reference already used, keeps
	// its item out. Rows go in merchant, then key order, so two pipelines waiting on each
	// other's keys cannot deadlock; no balance is locked yet.
	p.Query(`
		WITH x AS MATERIALIZED (
			SELECT x.*, v.frozen, v.allowed, h.approvals, h.reason,
			       x.reference IS NOT NULL
			       AND EXISTS (SELECT 1 FROM withdrawals t WHERE t.merchant_id = x.merchant_id AND t.reference = x.reference) AS taken
			  FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]::numeric[], $7::text[]::numeric[],
			              $8::text[]::numeric[], $9::text[]::numeric[], $10::text[]::numeric[], $11::text[]::numeric[], $12::text[],
			              $13::text[], $14::text[]::json[], $15::text[], $16::bytea[], $17::timestamptz[], $18::timestamptz[],
			              $19::text[], $20::text[], $21::text[])
			       WITH ORDINALITY AS x(i, id, merchant_id, token, network, amount, fee_base, fee_markup_rate, fee_markup_amount,
			            fee_total, net_amount, address, normalized_address, metadata, idempotency_key, request_hash, created_at,
			            estimated_completion, created_by_key, batch_request_id, reference, ord)
			  JOIN admission_verdicts($3::text[], $4::text[], $5::text[], $13::text[], $17::timestamptz[]) v USING (ord)
			  LEFT JOIN LATERAL approval_hold(x.merchant_id, x.token, x.network, x.normalized_address, x.amount, x.created_at) h ON true),
		inserted AS (
			INSERT INTO withdrawals (id, merchant_id, token, network, amount, fee_base, fee_markup_rate, fee_markup_amount,
				fee_total, net_amount, address, status, metadata, idempotency_key, request_hash, created_at, updated_at, estimated_completion,
				normalized_address, created_by_key, approvals_required, approval_reason, batch_request_id, reference)
			SELECT id, merchant_id, token, network, amount, fee_base, fee_markup_rate, fee_markup_amount, fee_total, net_amount,
			       address, CASE WHEN approvals IS NULL THEN 'pending' ELSE 'pending_approval' END, metadata, idempotency_key,
			       request_hash, created_at, created_at, estimated_completion,
			       normalized_address, created_by_key, COALESCE(approvals, 0), reason, batch_request_id, reference
			  FROM x WHERE allowed AND NOT frozen AND NOT taken
			 ORDER BY merchant_id, idempotency_key, i
			ON CONFLICT (merchant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id)
		SELECT x.i, x.frozen, x.allowed, x.taken, i.id IS NOT NULL, x.approvals, x.reason FROM x LEFT JOIN inserted i ON i.id = x.id`,
		c.args(), func(rows pgx.Rows) error {
			for rows.Next() {
				var i int
				var v verdict
				var approvals *int
				var reason *string
				if err := rows.Scan(&i, &v.frozen, &v.allowed, &v.taken, &v.inserted, &approvals, &reason); err != nil {
					return err
				}
				if approvals != nil && reason != nil {
					v.hold = &Hold{Approvals: *approvals, Reason: *reason}
				}
				verdicts[i] = v
			}
			return nil
		})

	// The balances are locked by a statement of their own, in merchant and token order,
	// the order every writer locks them in. Waiting for a balance another transaction
	// holds ends with PostgreSQL rechecking the waiting statement's plan against the row
	// it now sees; that recheck is cheap for this statement and would not be for the
	// next one.
	p.Execute(ctx, `
		SELECT FROM balances b
		  JOIN (SELECT DISTINCT merchant_id, token FROM unnest($1::text[], $2::text[]) AS w(merchant_id, token)) w
		    USING (merchant_id, token)
		 ORDER BY b.merchant_id, b.token FOR UPDATE OF b`, c.merchants, c.tokens)

	// Per balance, the lock journals (ledger.Lock) of the withdrawals just inserted: when
	// the balance covers them all, it moves by them and they are posted, and the
	// withdrawal.pending events are written and delivered as every event is; when it does
	// not, its withdrawals are taken out again.
	args := append(locks.JournalArgs(), locks.DeltaArgs()...)        // $1-$8, $9-$10
	args = append(args, locks.EntryArgs()...)                        // $11-$15
	args = append(args, events.Args()...)                            // $16-$21
	deliveries, deliveryArgs := r.outbox.Deliveries(len(args)+1, "") // $22-$26
	args = append(args, deliveryArgs...)
	args = append(args, c.ids, c.networks, heldTypes, heldPayloads) // $27-$30
	locked := map[[2]string]balanceLock{}
	p.Query(`
		WITH lock AS MATERIALIZED (
			SELECT j.*, s.status, s.status IS NOT NULL AS inserted
			  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			              $8::timestamptz[], $9::text[]::numeric[], $10::text[]::numeric[])
			       AS j(id, kind, merchant_id, token, withdrawal_id, reference, created_by, created_at, available, pending)
			  -- LIMIT 1 keeps this a lookup by key: flattened into a join, it could be
			  -- planned as a scan of withdrawals while their statistics are young.
			  LEFT JOIN LATERAL (SELECT w.status FROM withdrawals w WHERE w.id = j.withdrawal_id LIMIT 1) s ON true),
		want AS (
			SELECT merchant_id, token, sum(available) AS available, sum(pending) AS pending, max(created_at) AS at,
			       array_agg(pending) AS amounts
			  FROM lock WHERE inserted GROUP BY merchant_id, token),
		checked AS MATERIALIZED (
			SELECT w.*, b.kind AS breach, b.lim, b.remaining
			  FROM want w LEFT JOIN LATERAL limit_breach(w.merchant_id, w.token, w.at, w.amounts) b ON true),
		fits AS (
			UPDATE balances b SET available = b.available + w.available, pending = b.pending + w.pending, updated_at = w.at
			  FROM checked w WHERE b.merchant_id = w.merchant_id AND b.token = w.token AND b.available + w.available >= 0
			   AND w.breach IS NULL
			RETURNING b.merchant_id, b.token),
		locked AS (SELECT l.* FROM lock l JOIN fits f USING (merchant_id, token) WHERE l.inserted),
		journals AS (
			INSERT INTO ledger_journals (id, kind, merchant_id, token, withdrawal_id, reference, created_by, created_at)
			SELECT id, kind, merchant_id, token, withdrawal_id, reference, created_by, created_at FROM locked
			RETURNING id),
		entries AS (
			INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at)
			SELECT e.* FROM unnest($11::text[], $12::text[], $13::text[], $14::text[]::numeric[], $15::timestamptz[])
			                AS e(id, journal_id, account_id, amount, created_at)
			  JOIN journals j ON j.id = e.journal_id),
		dropped AS (
			DELETE FROM withdrawals w
			 WHERE w.id = ANY (ARRAY(SELECT l.withdrawal_id FROM lock l WHERE l.inserted
			                          AND NOT EXISTS (SELECT 1 FROM fits f WHERE f.merchant_id = l.merchant_id AND f.token = l.token)))),
		count_deltas AS (
			SELECT l.merchant_id, l.token, w.network, l.status, 1 AS delta
			  FROM locked l JOIN unnest($27::text[], $28::text[]) AS w(id, network) ON w.id = l.withdrawal_id),
		`+CountsSQL+`,
		events AS (
			INSERT INTO webhook_events (id, merchant_id, type, subject_id, payload, created_at)
			SELECT ev.id, ev.merchant_id, CASE WHEN l.status = 'pending' THEN ev.type ELSE ev.held_type END, ev.subject_id,
			       CASE WHEN l.status = 'pending' THEN ev.payload ELSE ev.held_payload END, ev.created_at
			  FROM unnest($16::text[], $17::text[], $18::text[], $19::text[], $20::text[]::json[], $21::timestamptz[],
			              $29::text[], $30::text[]::json[])
			       AS ev(id, merchant_id, type, subject_id, payload, created_at, held_type, held_payload)
			  JOIN locked l ON l.withdrawal_id = ev.subject_id
			RETURNING id, merchant_id, type, created_at),
		`+deliveries+`
		SELECT w.merchant_id, w.token, f.merchant_id IS NOT NULL, (SELECT count(*) FROM wake),
		       CASE WHEN f.merchant_id IS NULL THEN
		            COALESCE((SELECT b.available FROM balances b WHERE b.merchant_id = w.merchant_id AND b.token = w.token), 0) END::text,
		       w.breach, w.lim::text, w.remaining::text
		  FROM checked w LEFT JOIN fits f ON f.merchant_id = w.merchant_id AND f.token = w.token`,
		args, func(rows pgx.Rows) error {
			for rows.Next() {
				var key [2]string
				var l balanceLock
				var available, breach, limit, remaining *string
				var woken int64
				if err := rows.Scan(&key[0], &key[1], &l.fits, &woken, &available, &breach, &limit, &remaining); err != nil {
					return err
				}
				if available != nil {
					l.available = decimal.RequireFromString(*available)
				}
				if breach != nil {
					l.breach = &Breach{Kind: *breach, Limit: decimal.RequireFromString(*limit), Remaining: decimal.RequireFromString(*remaining)}
				}
				locked[key] = l
			}
			return nil
		})
	r.ledger.Moved(&p, merchants...)
	if b != nil {
		p.Execute(ctx, `SELECT batch_incomplete($1, $2)`, b.ID, len(ws))
	}
	return &p, func() []verdict {
		for i, w := range ws {
			if v := &verdicts[i]; v.inserted {
				l := locked[[2]string{w.MerchantID, w.Token}]
				v.locked, v.available, v.breach = l.fits, l.available, l.breach
			}
		}
		return verdicts
	}, nil
}

// balanceLock is what the second statement found of one balance.
type balanceLock struct {
	fits      bool
	available decimal.Decimal
	breach    *Breach
}

// columns are the withdrawals as the arrays the insert unnests.
type columns struct {
	items                                                          []int
	ids, merchants, tokens, networks, addresses, normalized        []string
	amounts, feeBases, feeRates, feeMarkups, feeTotals, netAmounts []string
	metadata, keys, createdBy, batches, references                 []*string
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
	c.createdBy, c.batches, c.references = append(c.createdBy, w.CreatedByKey), append(c.batches, w.BatchRequestID), append(c.references, w.Reference)
}

func (c *columns) args() []any {
	return []any{c.items, c.ids, c.merchants, c.tokens, c.networks, c.amounts, c.feeBases, c.feeRates, c.feeMarkups,
		c.feeTotals, c.netAmounts, c.addresses, c.normalized, c.metadata, c.keys, c.hashes, c.createdAt, c.estimated,
		c.createdBy, c.batches, c.references}
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

// RecordBatch records a batch request directly: it is a group of its own.
func (g *Grouped) RecordBatch(ctx context.Context, b models.BatchRequest, ws []NewWithdrawal) ([]Outcome, error) {
	return g.recorder.RecordBatch(ctx, b, ws)
}

// Close writes what is queued and stops the group writers.
func (g *Grouped) Close() { g.group.Close() }
