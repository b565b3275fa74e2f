// Package chain holds the end-to-end tests of the Bitcoin Core rail: the service, through
// its HTTP API, paying LTC withdrawals from the wallet of a real litecoind -regtest that
// the tests start and stop (internal/regtest). It has no code of its own.
package chain
