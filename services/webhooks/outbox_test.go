package webhooks_test

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/migrations"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/webhooks"
)

// The outbox writes delivery jobs as river_job rows and wakes the workers with River's
// own insert notification, in SQL (one statement with the events, also inside
// withdrawal creation's pipeline). This pins that SQL to the River release in go.mod:
// the notification goes out on the channel River listens on with the payload it reads,
// and a worker of a real River client receives the job. Upgrading River fails the first
// check until the SQL has been checked against the new schema and RiverVersion raised.
func TestDeliveryJobsAreRiverJobs(t *testing.T) {
	t.Parallel()
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build information")
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/riverqueue/river" && dep.Version != migrations.RiverVersion {
			t.Fatalf("River is %s but the outbox's river_job SQL was checked against %s", dep.Version, migrations.RiverVersion)
		}
	}

	db, dbURL := testdb.New(t)
	tx, err := dbtx.New(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	merchant := models.Merchant{ID: ids.Merchant(), Name: "Acme", CreatedAt: time.Now()}
	endpoint := models.WebhookEndpoint{ID: ids.Endpoint(), MerchantID: merchant.ID, URL: "https://merchant.example/h",
		Events: []string{webhooks.EventWithdrawalPending}, Secret: "whsec_x", CreatedAt: time.Now()}
	if err := db.Create(&merchant).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&endpoint).Error; err != nil {
		t.Fatal(err)
	}

	listener, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	listen, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer listen.Close(ctx)
	if _, err := listen.Exec(ctx, `LISTEN "public.river_insert"`); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(_ context.Context, job *river.Job[webhooks.DeliverArgs]) error {
		got <- job.Args.DeliveryID
		return nil
	}))
	client, err := river.NewClient(riverdatabasesql.NewWithPgxListener(tx.SQL(), listener), &river.Config{
		Queues:  map[string]river.QueueConfig{webhooks.Queue: {MaxWorkers: 1}},
		Workers: workers,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(ctx)

	evt, err := webhooks.NewEvent(merchant.ID, webhooks.EventWithdrawalPending, "wth_x", map[string]any{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	outbox := webhooks.NewOutbox(7)
	if err := tx.Transaction(ctx, func(tx *dbtx.Tx) error {
		return outbox.Write(ctx, tx, []models.WebhookEvent{evt}, "")
	}); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	n, err := listen.WaitForNotification(waitCtx)
	if err != nil {
		t.Fatalf("no insert notification: %v", err)
	}
	if n.Channel != "public.river_insert" || n.Payload != `{"queue" : "webhooks"}` {
		t.Errorf("notification %q on %q", n.Payload, n.Channel)
	}
	want := "whd_" + evt.ID[4:] + endpoint.ID[3:]
	select {
	case id := <-got:
		if id != want {
			t.Fatalf("the worker got delivery %s, want %s", id, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the job written by the outbox never reached River's worker")
	}
	var job struct {
		Queue       string
		MaxAttempts int
		State       string
	}
	if err := db.Raw(`SELECT queue, max_attempts, state FROM river_job WHERE args->>'delivery_id' = ?`, want).Scan(&job).Error; err != nil {
		t.Fatal(err)
	}
	if job.Queue != webhooks.Queue || job.MaxAttempts != 7 {
		t.Errorf("job %+v", job)
	}
}
