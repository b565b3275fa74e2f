package handlers

import (
	"encoding/json"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/ledger"
)

// balancesBody is the body of GET /api/balance, the bytes c.JSON writes for
// {"balances": [balanceOf(row)...]}, newline included. It is written by hand because
// the balance read is the API's hottest answer and encoding/json's reflection over it
// is a visible share of the service's CPU there (BENCHMARKS.md); TestBalancesBody
// holds it to encoding/json's output.
func balancesBody(rows []ledger.Balance) []byte {
	body := make([]byte, 0, 16+len(rows)*96)
	body = append(body, `{"balances":[`...)
	for i, b := range rows {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"token":`...)
		body = appendJSONString(body, b.Token)
		body = append(body, `,"available":"`...)
		body = models.AppendAmount(body, b.Available)
		body = append(body, `","pending":"`...)
		body = models.AppendAmount(body, b.Pending)
		body = append(body, `","total":"`...)
		body = models.AppendAmount(body, b.Total())
		body = append(body, `"}`...)
	}
	return append(body, "]}\n"...)
}

// appendJSONString appends s as encoding/json writes it (HTML characters escaped, as
// Echo's serializer leaves them). Token symbols are plain ASCII; anything else goes
// through encoding/json itself.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always marshals
			return append(dst, quoted...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
