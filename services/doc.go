// Package services holds the use cases of the withdrawals service: creating, listing
// and cancelling withdrawals, balances and the double-entry ledger, merchants, API keys
// and credits, and fee administration. It owns every transaction and every rule about
// money; it never sees HTTP. Methods take a context first and return domain values or
// the typed errors of errors.go.
package services
