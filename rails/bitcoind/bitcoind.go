// Package bitcoind pays batches through the wallet of a Bitcoin Core-compatible node
// (bitcoind, litecoind: the same JSON-RPC): one sendmany transaction per batch, tracked
// to the configured number of confirmations.
//
// It can never pay a batch twice. sendmany has no idempotency key, so every
// transaction carries the batch id as its wallet comment, and before each send the
// wallet is searched for a transaction with that comment since the batch was claimed:
// a crash after the broadcast, a lost answer, or a retry finds it and reports it instead
// of sending again. The search and the send both hold the node's wallet lock, so a send
// still running when a retry searches is found by it.
//
// A definite failure is reported only when the node refused before creating anything
// (insufficient funds, an address or amount it rejects, a fee rate above the cap);
// everything else (unreachable node, timeout, a transaction that left the mempool or
// lost to a conflicting one) is an error, which keeps the funds locked.
package bitcoind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/rails"
)

// Config points the rail at one node's wallet.
type Config struct {
	// URL is the wallet's RPC endpoint: http://user:password@host:port/wallet/NAME.
	URL string
	// Chain is the node's chain as getblockchaininfo names it ("main", "test",
	// "regtest", "signet"); a node on another chain is reported not ready.
	Chain string
	// Confirmations is the depth at which a payout is final.
	Confirmations int
	// MaxFeeRate caps the fee rate, in satoshis (litoshis) per virtual byte: a batch
	// that would pay more fails before anything is sent.
	MaxFeeRate decimal.Decimal
	// FallbackFeeRate is used while the node has no fee estimate (a fresh node, a
	// regtest chain); zero means wait for an estimate.
	FallbackFeeRate decimal.Decimal
	// ConfTarget is the confirmation target of the fee estimate, in blocks.
	ConfTarget int
	// Decimals is the token's precision (8 on both chains).
	Decimals int32
}

// Provider is the Bitcoin Core rail for one token.
type Provider struct {
	rpc *client
	cfg Config
}

// New returns the rail for cfg; nothing is asked of the node until it is used.
func New(cfg Config) (*Provider, error) {
	rpc, err := newClient(cfg.URL, &http.Client{})
	if err != nil {
		return nil, err
	}
	if cfg.Confirmations < 1 {
		return nil, errors.New("confirmations must be at least 1")
	}
	if !cfg.MaxFeeRate.IsPositive() {
		return nil, errors.New("the maximum fee rate must be positive")
	}
	if cfg.ConfTarget < 1 {
		cfg.ConfTarget = 6
	}
	if cfg.Decimals == 0 {
		cfg.Decimals = 8
	}
	return &Provider{rpc: rpc, cfg: cfg}, nil
}

// Name implements rails.Provider.
func (p *Provider) Name() string { return "bitcoind" }

// Failure reasons, as withdrawals' failureReason.
const (
	ReasonInvalidAddress    = "invalid_address"
	ReasonInsufficientFunds = "insufficient_funds"
	ReasonAmountTooSmall    = "amount_below_dust"
	ReasonFeeAboveCap       = "fee_above_cap"
	ReasonRejected          = "rejected_by_node"
)

// Submit implements rails.Provider: it reports the batch's transaction if the wallet
// already holds one, and sends it otherwise.
func (p *Provider) Submit(ctx context.Context, b rails.Batch) (string, []rails.ItemResult, error) {
	txid, err := p.findSent(ctx, b)
	if err != nil {
		return "", nil, err
	}
	if txid != "" {
		results, err := p.sentResults(ctx, b, txid)
		return txid, results, err
	}
	valid, results, err := p.checkAddresses(ctx, b.Items)
	if err != nil || len(valid) == 0 {
		return "", results, err
	}
	fail := func(reason string) (string, []rails.ItemResult, error) {
		for _, it := range valid {
			results = append(results, rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemFailed, Reason: reason})
		}
		return "", results, nil
	}
	feeRate, err := p.feeRate(ctx)
	if err != nil {
		return "", nil, err
	}
	if feeRate.GreaterThan(p.cfg.MaxFeeRate) {
		return fail(ReasonFeeAboveCap)
	}
	amounts, err := p.outputs(valid)
	if err != nil {
		return "", nil, err
	}
	// Positional: dummy, amounts, minconf, comment, subtractfeefrom, replaceable,
	// conf_target, estimate_mode, fee_rate (sat/vB). The wallet pays the fee on top, so
	// each recipient receives exactly its withdrawal's net amount.
	err = p.rpc.call(ctx, &txid, "sendmany", "", amounts, 1, b.ID, []string{}, nil, nil, nil, feeRate.StringFixed(3))
	if reason := definiteReason(err); reason != "" {
		return fail(reason)
	}
	if err != nil {
		return "", nil, err
	}
	for _, it := range valid {
		results = append(results, rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemAccepted, TxHash: txid})
	}
	return txid, results, nil
}

// definiteReason is the failure reason of a sendmany error that proves nothing was
// created, or "" when the outcome is unknown.
func definiteReason(err error) string {
	var rpcErr *RPCError
	if !errors.As(err, &rpcErr) {
		return ""
	}
	msg := strings.ToLower(rpcErr.Message)
	switch {
	case rpcErr.Code == codeInsufficientFunds && strings.Contains(msg, "too small"):
		return ReasonAmountTooSmall
	case rpcErr.Code == codeInsufficientFunds:
		return ReasonInsufficientFunds
	case rpcErr.Code == codeInvalidAddressOrKey:
		return ReasonInvalidAddress
	case rpcErr.Code == codeInvalidParameter:
		return ReasonRejected
	case rpcErr.Code == codeWalletError && strings.Contains(msg, "fee exceeds maximum"):
		return ReasonFeeAboveCap
	}
	return ""
}

// outputs sums the amounts per address: sendmany takes each address once, so two
// withdrawals to one address share an output (and the transaction).
func (p *Provider) outputs(items []rails.Item) (map[string]string, error) {
	sums := map[string]decimal.Decimal{}
	for _, it := range items {
		if !it.Amount.Equal(it.Amount.Truncate(p.cfg.Decimals)) || !it.Amount.IsPositive() {
			return nil, fmt.Errorf("withdrawal %s: amount %s cannot be sent with %d decimals", it.WithdrawalID, it.Amount, p.cfg.Decimals)
		}
		sums[it.Address] = sums[it.Address].Add(it.Amount)
	}
	out := make(map[string]string, len(sums))
	for addr, sum := range sums {
		out[addr] = sum.StringFixed(p.cfg.Decimals)
	}
	return out, nil
}

// checkAddresses asks the node about every address at once: the ones it rejects fail
// alone (invalid_address) instead of failing the whole transaction.
func (p *Provider) checkAddresses(ctx context.Context, items []rails.Item) (valid []rails.Item, failed []rails.ItemResult, err error) {
	addrs := map[string]bool{}
	var params [][]any
	for _, it := range items {
		if _, seen := addrs[it.Address]; !seen {
			addrs[it.Address] = false
			params = append(params, []any{it.Address})
		}
	}
	if len(params) == 0 {
		return nil, nil, nil
	}
	answers, err := p.rpc.batch(ctx, "validateaddress", params)
	if err != nil {
		return nil, nil, err
	}
	for i, a := range answers {
		if a.Error != nil {
			return nil, nil, fmt.Errorf("validateaddress: %w", a.Error)
		}
		var v struct {
			IsValid bool `json:"isvalid"`
		}
		if err := json.Unmarshal(a.Result, &v); err != nil {
			return nil, nil, fmt.Errorf("validateaddress: decode: %w", err)
		}
		addrs[params[i][0].(string)] = v.IsValid
	}
	for _, it := range items {
		if addrs[it.Address] {
			valid = append(valid, it)
		} else {
			failed = append(failed, rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemFailed, Reason: ReasonInvalidAddress})
		}
	}
	return valid, failed, nil
}

// feeRate is the node's estimate in sat/vB, or the fallback while it has none.
func (p *Provider) feeRate(ctx context.Context) (decimal.Decimal, error) {
	var est struct {
		FeeRate *decimal.Decimal `json:"feerate"` // coins per 1,000 vbytes
		Errors  []string         `json:"errors"`
	}
	if err := p.rpc.call(ctx, &est, "estimatesmartfee", p.cfg.ConfTarget); err != nil {
		return decimal.Zero, err
	}
	if est.FeeRate != nil && est.FeeRate.IsPositive() {
		return est.FeeRate.Shift(p.cfg.Decimals).Div(decimal.NewFromInt(1000)).RoundUp(3), nil
	}
	if p.cfg.FallbackFeeRate.IsPositive() {
		return p.cfg.FallbackFeeRate, nil
	}
	return decimal.Zero, fmt.Errorf("the node has no fee estimate yet (%s) and no fallback fee rate is configured", strings.Join(est.Errors, "; "))
}

// walletTx is what gettransaction and listtransactions say of a wallet transaction.
type walletTx struct {
	TxID          string `json:"txid"`
	Category      string `json:"category"`
	Comment       string `json:"comment"`
	Confirmations int    `json:"confirmations"`
	TimeReceived  int64  `json:"timereceived"`
	Details       []struct {
		Address  string `json:"address"`
		Category string `json:"category"`
	} `json:"details"`
}

// searchSlack widens the wallet search before the batch's claim, for a node whose
// clock is behind the service's.
const searchSlack = time.Hour

// findSent returns the id of the wallet transaction that pays batch b, or "" when
// there is none. Two transactions for one batch would mean it was paid twice: that is
// reported as an error, so the batch stops for an admin.
func (p *Provider) findSent(ctx context.Context, b rails.Batch) (string, error) {
	const page = 200
	since := b.Since.Add(-searchSlack).Unix()
	var found []string
	for skip := 0; ; skip += page {
		var txs []walletTx
		if err := p.rpc.call(ctx, &txs, "listtransactions", "*", page, skip, true); err != nil {
			return "", err
		}
		older := false
		for _, tx := range txs {
			if tx.Category == "send" && tx.Comment == b.ID && !slices.Contains(found, tx.TxID) {
				found = append(found, tx.TxID)
			}
			older = older || tx.TimeReceived < since
		}
		if len(txs) < page || older {
			break
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("batch %s is in %d wallet transactions (%s): it must be reviewed by hand", b.ID, len(found), strings.Join(found, ", "))
}

// sentResults maps the items of a batch onto its transaction's outputs: items paid by
// it are accepted; items the node refused when it was sent failed then, and fail again.
func (p *Provider) sentResults(ctx context.Context, b rails.Batch, txid string) ([]rails.ItemResult, error) {
	var tx walletTx
	if err := p.rpc.call(ctx, &tx, "gettransaction", txid, true); err != nil {
		return nil, err
	}
	paid := map[string]bool{}
	for _, d := range tx.Details {
		if d.Category == "send" {
			paid[d.Address] = true
		}
	}
	var unpaid []rails.Item
	var results []rails.ItemResult
	for _, it := range b.Items {
		if paid[it.Address] {
			results = append(results, rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemAccepted, TxHash: txid})
		} else {
			unpaid = append(unpaid, it)
		}
	}
	valid, failed, err := p.checkAddresses(ctx, unpaid)
	if err != nil {
		return nil, err
	}
	if len(valid) > 0 {
		return nil, fmt.Errorf("batch %s was sent in %s without %d of its withdrawals (first %s): it must be reviewed by hand",
			b.ID, txid, len(valid), valid[0].WithdrawalID)
	}
	return append(results, failed...), nil
}

// Status implements rails.Provider: the batch's transaction's depth decides. A
// transaction that is neither in a block nor in the mempool, or that lost to a
// conflicting one, is reported as an error: the outcome is for an admin to decide.
func (p *Provider) Status(ctx context.Context, b rails.Batch) ([]rails.ItemResult, error) {
	txid := b.Reference
	if txid == "" {
		var err error
		if txid, err = p.findSent(ctx, b); err != nil {
			return nil, err
		}
		if txid == "" {
			return nil, rails.ErrUnknownBatch
		}
	}
	var tx walletTx
	if err := p.rpc.call(ctx, &tx, "gettransaction", txid, true); err != nil {
		return nil, err
	}
	switch {
	case tx.Confirmations < 0:
		return nil, fmt.Errorf("transaction %s conflicts with one %d blocks deep: it will not confirm", txid, -tx.Confirmations)
	case tx.Confirmations == 0:
		err := p.rpc.call(ctx, nil, "getmempoolentry", txid)
		if isCode(err, codeInvalidAddressOrKey) {
			return nil, fmt.Errorf("transaction %s is neither in a block nor in the node's mempool", txid)
		}
		if err != nil {
			return nil, err
		}
	}
	status := rails.ItemAccepted
	if tx.Confirmations >= p.cfg.Confirmations {
		status = rails.ItemConfirmed
	}
	paid := map[string]bool{}
	for _, d := range tx.Details {
		if d.Category == "send" {
			paid[d.Address] = true
		}
	}
	results := make([]rails.ItemResult, 0, len(b.Items))
	for _, it := range b.Items {
		if !paid[it.Address] {
			return nil, fmt.Errorf("withdrawal %s of batch %s has no output in %s", it.WithdrawalID, b.ID, txid)
		}
		results = append(results, rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: status, TxHash: txid})
	}
	return results, nil
}

// Check implements rails.Checker: the wallet answers, on the expected chain.
func (p *Provider) Check(ctx context.Context) error {
	var info struct {
		Chain string `json:"chain"`
	}
	if err := p.rpc.call(ctx, &info, "getblockchaininfo"); err != nil {
		return err
	}
	if p.cfg.Chain != "" && info.Chain != p.cfg.Chain {
		return fmt.Errorf("the node is on chain %q, the service expects %q", info.Chain, p.cfg.Chain)
	}
	if err := p.rpc.call(ctx, nil, "getwalletinfo"); err != nil {
		if isCode(err, codeWalletNotFound) {
			return errors.New("the node has no wallet loaded at this URL (add /wallet/NAME)")
		}
		return err
	}
	return nil
}
