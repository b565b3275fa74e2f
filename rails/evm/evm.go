// Package evm pays withdrawals on an Ethereum-compatible chain from a hot wallet whose
// key the service holds: the native coin by value transfers, ERC-20 tokens by the
// contract's transfer, each withdrawal in a transaction of its own with EIP-1559 fees,
// tracked to the configured depth.
//
// It can never pay a withdrawal twice. The hot wallet's nonce is the idempotency key:
// a withdrawal gets one nonce, allocated under a row lock in PostgreSQL (evm_nonces),
// and its signed transaction is stored (evm_payments, evm_transactions) in the same
// transaction, before it is first broadcast. Every later attempt, after a timeout, a
// crash or a restart, finds the stored transaction and broadcasts it again; it never
// signs a second payment. A transaction stuck in the mempool is replaced by one with the
// same nonce and a higher fee, so whichever is mined, the other can no longer be.
package evm

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/rails"
)

// Asset is how a token is paid on the chain.
type Asset struct {
	// Contract is the ERC-20 contract; nil means the chain's native coin.
	Contract *common.Address
	// Decimals converts amounts into the contract's (or wei's) base units.
	Decimals int32
}

// Config points the rail at a node and a hot wallet.
type Config struct {
	RPCURL string
	Key    *ecdsa.PrivateKey
	// ChainID must be the node's (EIP-155 replay protection; Check compares them).
	ChainID int64
	// Confirmations is the depth at which an outcome is final.
	Confirmations int
	// MaxFeePerGas caps what a transaction may pay per gas, replacements included (wei).
	MaxFeePerGas *big.Int
	// ReplaceAfter is how long a transaction may wait unmined before it is replaced
	// with a higher fee.
	ReplaceAfter time.Duration
	// Assets are the tokens the rail pays, by symbol.
	Assets map[string]Asset
	Clock  func() time.Time
}

// Provider is the Ethereum rail.
type Provider struct {
	db     *gorm.DB
	rpc    *rpc.Client
	eth    *ethclient.Client
	cfg    Config
	sender common.Address
	signer types.Signer
}

// New returns the rail; nothing is asked of the node until it is used.
func New(db *gorm.DB, cfg Config) (*Provider, error) {
	if cfg.Key == nil {
		return nil, errors.New("a signer key is required")
	}
	if cfg.Confirmations < 1 || cfg.MaxFeePerGas == nil || cfg.MaxFeePerGas.Sign() <= 0 || cfg.ChainID <= 0 {
		return nil, errors.New("confirmations, a maximum fee per gas and the chain id must be positive")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	client, err := rpc.DialOptions(context.Background(), cfg.RPCURL)
	if err != nil {
		return nil, errors.New("the node's RPC URL must look like http://host:port")
	}
	return &Provider{db: db, rpc: client, eth: ethclient.NewClient(client), cfg: cfg,
		sender: crypto.PubkeyToAddress(cfg.Key.PublicKey), signer: types.LatestSignerForChainID(big.NewInt(cfg.ChainID))}, nil
}

// Name implements rails.Provider.
func (p *Provider) Name() string { return "evm" }

// Sender is the hot wallet's address.
func (p *Provider) Sender() common.Address { return p.sender }

// Failure reasons, as withdrawals' failureReason.
const (
	ReasonInsufficientFunds = "insufficient_funds"
	ReasonFeeAboveCap       = "fee_above_cap"
	ReasonReverted          = "reverted"
)

// ErrWrongChain means the node is on another chain than the one configured: the
// service refuses to start rather than sign for it.
var ErrWrongChain = errors.New("the node is on another chain")

// Check implements rails.Checker: the node answers with the configured chain id.
func (p *Provider) Check(ctx context.Context) error {
	id, err := p.eth.ChainID(ctx)
	if err != nil {
		return err
	}
	if id.Int64() != p.cfg.ChainID {
		return fmt.Errorf("%w: its chain id is %s, EVM_CHAIN_ID is %d", ErrWrongChain, id, p.cfg.ChainID)
	}
	return nil
}

// payment is a withdrawal's nonce and its signed transactions, oldest first.
type payment struct {
	WithdrawalID string
	Nonce        uint64
	txs          []storedTx
}

type storedTx struct {
	Hash                 string
	WithdrawalID         string
	Raw                  []byte
	MaxFeePerGas         decimal.Decimal
	MaxPriorityFeePerGas decimal.Decimal
	CreatedAt            time.Time
}

func (storedTx) TableName() string { return "evm_transactions" }

func (pay *payment) latest() storedTx { return pay.txs[len(pay.txs)-1] }

// Submit implements rails.Provider: withdrawals without a payment get one (checked,
// signed and stored), then every payment's latest transaction is broadcast.
func (p *Provider) Submit(ctx context.Context, b rails.Batch) (string, []rails.ItemResult, error) {
	asset, ok := p.cfg.Assets[b.Token]
	if !ok {
		return "", nil, fmt.Errorf("the evm rail is not configured for %s", b.Token)
	}
	payments, err := p.payments(ctx, b.Items)
	if err != nil {
		return "", nil, err
	}
	var fresh []rails.Item
	for _, it := range b.Items {
		if payments[it.WithdrawalID] == nil {
			fresh = append(fresh, it)
		}
	}
	var results []rails.ItemResult
	if len(fresh) > 0 {
		failed, err := p.sign(ctx, b, asset, fresh)
		if err != nil {
			return "", nil, err
		}
		results = append(results, failed...)
		if payments, err = p.payments(ctx, b.Items); err != nil {
			return "", nil, err
		}
	}
	for _, it := range b.Items {
		pay := payments[it.WithdrawalID]
		if pay == nil {
			continue // failed above
		}
		latest := pay.latest()
		if err := p.broadcast(ctx, latest.Raw); err != nil {
			return "", nil, fmt.Errorf("broadcast %s (withdrawal %s): %w", latest.Hash, it.WithdrawalID, err)
		}
		results = append(results, rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemAccepted, TxHash: latest.Hash})
	}
	return "", results, nil
}

// call is what paying one item sends: to, value and data.
func (p *Provider) call(asset Asset, it rails.Item) (to common.Address, value *big.Int, data []byte, err error) {
	units := it.Amount.Shift(asset.Decimals)
	if !units.IsInteger() || !units.IsPositive() {
		return to, nil, nil, fmt.Errorf("withdrawal %s: amount %s is not a whole number of base units", it.WithdrawalID, it.Amount)
	}
	recipient := common.HexToAddress(it.Address)
	if asset.Contract == nil {
		return recipient, units.BigInt(), nil, nil
	}
	// transfer(address,uint256)
	data = append(hexutil.MustDecode("0xa9059cbb"), common.LeftPadBytes(recipient.Bytes(), 32)...)
	data = append(data, common.LeftPadBytes(units.BigInt().Bytes(), 32)...)
	return *asset.Contract, new(big.Int), data, nil
}

// fees are the EIP-1559 fees for a new transaction now: twice the base fee plus the
// suggested tip, within the cap. ok is false when even the base fee and tip exceed it.
func (p *Provider) fees(ctx context.Context) (maxFee, tip *big.Int, ok bool, err error) {
	head, err := p.eth.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, nil, false, err
	}
	if tip, err = p.eth.SuggestGasTipCap(ctx); err != nil {
		return nil, nil, false, err
	}
	base := head.BaseFee
	if base == nil {
		base = new(big.Int)
	}
	if new(big.Int).Add(base, tip).Cmp(p.cfg.MaxFeePerGas) > 0 {
		return nil, nil, false, nil
	}
	maxFee = new(big.Int).Add(new(big.Int).Mul(base, big.NewInt(2)), tip)
	if maxFee.Cmp(p.cfg.MaxFeePerGas) > 0 {
		maxFee = new(big.Int).Set(p.cfg.MaxFeePerGas)
	}
	return maxFee, tip, true, nil
}

// sign checks what the fresh items need (gas, fees, the hot wallet's balances) and
// fails them all when it cannot be had; otherwise it allocates their nonces, signs and
// stores their transactions in one database transaction.
func (p *Provider) sign(ctx context.Context, b rails.Batch, asset Asset, items []rails.Item) ([]rails.ItemResult, error) {
	failAll := func(reason string) []rails.ItemResult {
		out := make([]rails.ItemResult, len(items))
		for i, it := range items {
			out[i] = rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemFailed, Reason: reason}
		}
		return out
	}
	maxFee, tip, ok, err := p.fees(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return failAll(ReasonFeeAboveCap), nil
	}
	if asset.Contract != nil {
		// Before the gas estimates, which would only say "reverted".
		need := decimal.Zero
		for _, it := range items {
			need = need.Add(it.Amount.Shift(asset.Decimals))
		}
		held, err := p.tokenBalance(ctx, *asset.Contract)
		if err != nil {
			return nil, err
		}
		if decimal.NewFromBigInt(held, 0).LessThan(need) {
			return failAll(ReasonInsufficientFunds), nil
		}
	}
	type unsigned struct {
		item  rails.Item
		to    common.Address
		value *big.Int
		data  []byte
		gas   uint64
	}
	var txs []unsigned
	var failed []rails.ItemResult
	needETH := new(big.Int)
	for _, it := range items {
		to, value, data, err := p.call(asset, it)
		if err != nil {
			return nil, err
		}
		gas, err := p.eth.EstimateGas(ctx, ethereum.CallMsg{From: p.sender, To: &to, Value: value, Data: data})
		switch {
		case err != nil && isRevert(err):
			// The node's simulation reverts (a blacklisted recipient, a paused token):
			// nothing is signed.
			failed = append(failed, rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemFailed, Reason: ReasonReverted})
			continue
		case err != nil && isInsufficientFunds(err):
			return failAll(ReasonInsufficientFunds), nil
		case err != nil:
			return nil, fmt.Errorf("estimate gas for withdrawal %s: %w", it.WithdrawalID, err)
		}
		if asset.Contract != nil {
			gas += gas / 5 // token transfers' cost can move with the contract's state
		}
		needETH.Add(needETH, value)
		needETH.Add(needETH, new(big.Int).Mul(new(big.Int).SetUint64(gas), maxFee))
		txs = append(txs, unsigned{item: it, to: to, value: value, data: data, gas: gas})
	}
	if len(txs) == 0 {
		return failed, nil
	}
	balance, err := p.eth.PendingBalanceAt(ctx, p.sender)
	if err != nil {
		return nil, err
	}
	if balance.Cmp(needETH) < 0 {
		return failAll(ReasonInsufficientFunds), nil
	}
	pending, err := p.eth.PendingNonceAt(ctx, p.sender)
	if err != nil {
		return nil, err
	}
	now := p.cfg.Clock().UTC()
	err = p.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		next, err := p.lockNonce(tx, pending)
		if err != nil {
			return err
		}
		for _, u := range txs {
			signed, err := types.SignNewTx(p.cfg.Key, p.signer, &types.DynamicFeeTx{
				ChainID: big.NewInt(p.cfg.ChainID), Nonce: next, GasTipCap: tip, GasFeeCap: maxFee, Gas: u.gas, To: &u.to, Value: u.value, Data: u.data,
			})
			if err != nil {
				return fmt.Errorf("sign: %w", err)
			}
			if err := tx.Exec(`INSERT INTO evm_payments (withdrawal_id, batch_id, chain_id, sender, nonce, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
				u.item.WithdrawalID, b.ID, p.cfg.ChainID, p.sender.Hex(), next, now).Error; err != nil {
				return fmt.Errorf("store payment: %w", err)
			}
			if err := p.store(tx, u.item.WithdrawalID, signed, now); err != nil {
				return err
			}
			next++
		}
		return tx.Exec(`UPDATE evm_nonces SET next_nonce = ? WHERE chain_id = ? AND sender = ?`, next, p.cfg.ChainID, p.sender.Hex()).Error
	})
	if err != nil {
		return nil, fmt.Errorf("allocate nonces: %w", err)
	}
	return failed, nil
}

// lockNonce locks the hot wallet's nonce row and returns the next nonce: the stored
// one, or the node's pending count when that is ahead (a transaction sent from the
// wallet by something else; the service must own the key alone, but it never reuses
// a nonce the node has seen).
func (p *Provider) lockNonce(tx *gorm.DB, pending uint64) (uint64, error) {
	if err := tx.Exec(`INSERT INTO evm_nonces (chain_id, sender, next_nonce) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		p.cfg.ChainID, p.sender.Hex(), pending).Error; err != nil {
		return 0, err
	}
	var next uint64
	if err := tx.Raw(`SELECT next_nonce FROM evm_nonces WHERE chain_id = ? AND sender = ? FOR UPDATE`, p.cfg.ChainID, p.sender.Hex()).Scan(&next).Error; err != nil {
		return 0, err
	}
	return max(next, pending), nil
}

func (p *Provider) store(tx *gorm.DB, withdrawalID string, signed *types.Transaction, now time.Time) error {
	raw, err := signed.MarshalBinary()
	if err != nil {
		return err
	}
	row := storedTx{Hash: signed.Hash().Hex(), WithdrawalID: withdrawalID, Raw: raw, CreatedAt: now,
		MaxFeePerGas: decimal.NewFromBigInt(signed.GasFeeCap(), 0), MaxPriorityFeePerGas: decimal.NewFromBigInt(signed.GasTipCap(), 0)}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("store transaction: %w", err)
	}
	return nil
}

func (p *Provider) tokenBalance(ctx context.Context, contract common.Address) (*big.Int, error) {
	// balanceOf(address)
	data := append(hexutil.MustDecode("0x70a08231"), common.LeftPadBytes(p.sender.Bytes(), 32)...)
	out, err := p.eth.PendingCallContract(ctx, ethereum.CallMsg{To: &contract, Data: data})
	if err != nil {
		return nil, fmt.Errorf("token balance: %w", err)
	}
	return new(big.Int).SetBytes(out), nil
}

// payments loads the stored payments of items, with their transactions.
func (p *Provider) payments(ctx context.Context, items []rails.Item) (map[string]*payment, error) {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.WithdrawalID
	}
	out := map[string]*payment{}
	if len(ids) == 0 {
		return out, nil
	}
	var pays []payment
	if err := p.db.WithContext(ctx).Raw(`SELECT withdrawal_id, nonce FROM evm_payments WHERE withdrawal_id IN ?`, ids).Scan(&pays).Error; err != nil {
		return nil, fmt.Errorf("load payments: %w", err)
	}
	for i := range pays {
		out[pays[i].WithdrawalID] = &pays[i]
	}
	var txs []storedTx
	if err := p.db.WithContext(ctx).Where("withdrawal_id IN ?", ids).Order("created_at, max_fee_per_gas").Find(&txs).Error; err != nil {
		return nil, fmt.Errorf("load transactions: %w", err)
	}
	for _, t := range txs {
		if pay := out[t.WithdrawalID]; pay != nil {
			pay.txs = append(pay.txs, t)
		}
	}
	for id, pay := range out {
		if len(pay.txs) == 0 {
			return nil, fmt.Errorf("withdrawal %s has a nonce but no stored transaction", id)
		}
	}
	return out, nil
}

// broadcast sends a stored transaction. The node already holding it, or its nonce
// already being used (by it or by its replacement, mined), is not an error: the status
// check finds out which.
func (p *Provider) broadcast(ctx context.Context, raw []byte) error {
	err := p.rpc.CallContext(ctx, nil, "eth_sendRawTransaction", hexutil.Encode(raw))
	if err == nil {
		return nil
	}
	msg := strings.ToLower(err.Error())
	for _, known := range []string{"already known", "already imported", "known transaction", "nonce too low", "replacement transaction underpriced"} {
		if strings.Contains(msg, known) {
			return nil
		}
	}
	return err
}

// Status implements rails.Provider. Per withdrawal: a mined transaction at depth
// settles it (reverted: failed); one not mined is re-broadcast if the node has lost
// it, or replaced with a higher fee once it has waited ReplaceAfter.
func (p *Provider) Status(ctx context.Context, b rails.Batch) ([]rails.ItemResult, error) {
	payments, err := p.payments(ctx, b.Items)
	if err != nil {
		return nil, err
	}
	head, err := p.eth.BlockNumber(ctx)
	if err != nil {
		return nil, err
	}
	var used *uint64 // the wallet's mined nonce count, read once when needed
	results := make([]rails.ItemResult, 0, len(b.Items))
	for _, it := range b.Items {
		pay := payments[it.WithdrawalID]
		if pay == nil {
			return nil, fmt.Errorf("withdrawal %s of batch %s has no stored transaction", it.WithdrawalID, b.ID)
		}
		receipt, hash, err := p.mined(ctx, pay)
		if err != nil {
			return nil, err
		}
		if receipt != nil {
			depth := int64(head) - receipt.BlockNumber.Int64() + 1
			res := rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemAccepted, TxHash: hash}
			switch {
			case depth < int64(p.cfg.Confirmations):
			case receipt.Status == types.ReceiptStatusSuccessful:
				res.Status = rails.ItemConfirmed
			default:
				res = rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemFailed, Reason: ReasonReverted}
			}
			results = append(results, res)
			continue
		}
		if used == nil {
			n, err := p.eth.NonceAt(ctx, p.sender, nil)
			if err != nil {
				return nil, err
			}
			used = &n
		}
		if *used > pay.Nonce {
			return nil, fmt.Errorf("nonce %d of %s was used by a transaction the service does not hold (withdrawal %s): it must be reviewed by hand",
				pay.Nonce, p.sender.Hex(), it.WithdrawalID)
		}
		latest, err := p.keepPending(ctx, pay)
		if err != nil {
			return nil, fmt.Errorf("withdrawal %s: %w", it.WithdrawalID, err)
		}
		results = append(results, rails.ItemResult{WithdrawalID: it.WithdrawalID, Status: rails.ItemAccepted, TxHash: latest})
	}
	return results, nil
}

// mined returns the receipt of whichever of the payment's transactions is in a block.
func (p *Provider) mined(ctx context.Context, pay *payment) (*types.Receipt, string, error) {
	for i := len(pay.txs) - 1; i >= 0; i-- {
		r, err := p.eth.TransactionReceipt(ctx, common.HexToHash(pay.txs[i].Hash))
		if errors.Is(err, ethereum.NotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return r, pay.txs[i].Hash, nil
	}
	return nil, "", nil
}

// keepPending makes sure the payment's latest transaction is in the node's mempool,
// or replaces it when it has waited too long, and returns the hash now pending.
func (p *Provider) keepPending(ctx context.Context, pay *payment) (string, error) {
	latest := pay.latest()
	if p.cfg.Clock().Sub(latest.CreatedAt) < p.cfg.ReplaceAfter {
		_, _, err := p.eth.TransactionByHash(ctx, common.HexToHash(latest.Hash))
		if errors.Is(err, ethereum.NotFound) {
			// Dropped, or taken out of the chain by a reorganisation: the same bytes again.
			return latest.Hash, p.broadcast(ctx, latest.Raw)
		}
		return latest.Hash, err
	}
	var old types.Transaction
	if err := old.UnmarshalBinary(latest.Raw); err != nil {
		return "", fmt.Errorf("decode stored transaction %s: %w", latest.Hash, err)
	}
	maxFee, tip, err := p.bumped(ctx, old.GasFeeCap(), old.GasTipCap())
	if err != nil {
		return "", err
	}
	signed, err := types.SignNewTx(p.cfg.Key, p.signer, &types.DynamicFeeTx{ChainID: big.NewInt(p.cfg.ChainID), Nonce: old.Nonce(),
		GasTipCap: tip, GasFeeCap: maxFee, Gas: old.Gas(), To: old.To(), Value: old.Value(), Data: old.Data()})
	if err != nil {
		return "", err
	}
	if err := p.store(p.db.WithContext(ctx), pay.WithdrawalID, signed, p.cfg.Clock().UTC()); err != nil {
		return "", err
	}
	hash := signed.Hash().Hex()
	raw, _ := signed.MarshalBinary()
	return hash, p.broadcast(ctx, raw)
}

// bumped are a replacement's fees: at least an eighth above the old ones (nodes ask for
// a tenth), and at least what a new transaction would pay now, within the cap. Past the
// cap the transaction stays stuck and the batch goes to an admin.
func (p *Provider) bumped(ctx context.Context, oldMax, oldTip *big.Int) (maxFee, tip *big.Int, err error) {
	bump := func(v *big.Int) *big.Int {
		return new(big.Int).Add(v, new(big.Int).Add(new(big.Int).Div(v, big.NewInt(8)), big.NewInt(1)))
	}
	maxFee, tip = bump(oldMax), bump(oldTip)
	if nowMax, nowTip, ok, err := p.fees(ctx); err != nil {
		return nil, nil, err
	} else if ok {
		maxFee, tip = bigMax(maxFee, nowMax), bigMax(tip, nowTip)
	}
	if maxFee.Cmp(p.cfg.MaxFeePerGas) > 0 {
		if bump(oldMax).Cmp(p.cfg.MaxFeePerGas) > 0 {
			return nil, nil, fmt.Errorf("stuck at %s wei per gas, and a replacement would exceed the cap of %s", oldMax, p.cfg.MaxFeePerGas)
		}
		maxFee = new(big.Int).Set(p.cfg.MaxFeePerGas)
	}
	if tip.Cmp(maxFee) > 0 {
		tip = new(big.Int).Set(maxFee)
	}
	return maxFee, tip, nil
}

func bigMax(a, b *big.Int) *big.Int {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}

// isRevert: the node's simulation of the call reverted ("execution reverted: ...").
func isRevert(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "revert")
}

func isInsufficientFunds(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "insufficient funds")
}
