package main

import (
	"strings"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/dbtx"
)

// The script's literals carry the merchant as :mid and each varying id with :k, and no
// colon inside a literal is followed by anything pgbench could take for a variable.
func TestScriptLiterals(t *testing.T) {
	const merchant, id = "mer_A", "wth_B"
	got := script([]dbtx.Statement{{
		SQL: "SELECT $1::text[], $2, $3::json, $4, $5",
		Args: []any{
			[]string{"merchant:" + merchant + ":available:USDT", id},
			(*string)(nil),
			`{"id":"` + id + `","batchId":null}`,
			time.Unix(1700000000, 123456000),
			[][]byte{{0xab}},
		},
	}}, merchant, []string{id})
	want := `SELECT ARRAY[('merchant' || ':' || '' || (:mid)::text || '' || ':' || 'available' || ':' || 'USDT')::text, ('wth_B' || (:k)::text)::text]::text[], ` +
		`NULL, ('{"id"' || ':' || '"' || 'wth_B' || (:k)::text || '","batchId"' || ':' || 'null}')::text::json, to_timestamp(1700000000.123456), ARRAY['\xab'::bytea];`
	if !strings.Contains(got, want) {
		t.Errorf("script:\n%s\nwant the statement:\n%s", got, want)
	}
	if !strings.HasPrefix(got, "\\startpipeline\n") || !strings.HasSuffix(got, "\\endpipeline\n") {
		t.Errorf("not one pipeline: %s", got)
	}
}
