package accounts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/app"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
)

func newAccounts(t *testing.T, db *gorm.DB) *accounts.Service {
	t.Helper()
	a, err := app.NewAdmin(db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return a.Accounts
}

// A string that is not shaped like an API key is refused without a database lookup:
// here the database is closed, and the answer is still a plain ErrUnauthorized.
func TestMalformedKeysCostNoLookup(t *testing.T) {
	t.Parallel()
	db, _ := testdb.New(t)
	accounts := newAccounts(t, db)
	issued, err := accounts.CreateAdminKey(context.Background(), "ops", models.ScopeReadWrite, "test")
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.Close()
	for _, k := range []string{"", "Bearer", "wk_short", strings.Repeat("x", 43), "wk_" + strings.Repeat("!", 40), issued.Plaintext + "x", strings.Repeat("a", 5000)} {
		if _, err := accounts.Authenticate(context.Background(), k); err != services.ErrUnauthorized {
			t.Errorf("%.20q: %v", k, err)
		}
	}
	// A well-formed key is looked up: with the database gone, that is an error.
	if _, err := accounts.Authenticate(context.Background(), issued.Plaintext); err == nil || err == services.ErrUnauthorized {
		t.Errorf("a well-formed key was not looked up: %v", err)
	}
}
