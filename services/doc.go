// Package services is what the use cases share: the errors they answer with (the HTTP
// layer maps them to the contract's error codes), the clock they read, and the page
// every listing returns. The use cases themselves live in the packages beneath, one
// per capability: withdrawals (and their lifecycle), ledger (balances and
// reconciliation), payouts, webhooks, accounts (merchants, keys, credits), pricing (fee
// schedules), audit. They own every transaction and every rule about money, and never
// see HTTP.
package services
