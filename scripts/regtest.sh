#!/usr/bin/env bash
# make regtest: the service paying LTC for real, from the wallet of a throwaway
# litecoind -regtest on 127.0.0.1 (its own data directory, removed at exit). The node's
# wallet is funded by mining; a block is mined every REGTEST_BLOCK_INTERVAL (10s), so
# payouts confirm (LITECOIN_CONFIRMATIONS, 2 here) as on a real chain, only faster.
# Ctrl-C stops the service, the miner and the node.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/litecoind.sh

dir=$(mktemp -d -t withdrawals-regtest-XXXXXX)
rpcport=${REGTEST_RPC_PORT:-19443}
auth=(-rpcuser=regtest -rpcpassword=regtest)
cli() { litecoin-cli -regtest -datadir="$dir" -rpcport="$rpcport" "${auth[@]}" "$@"; }

litecoind -regtest -datadir="$dir" -rpcport="$rpcport" -port="${REGTEST_P2P_PORT:-19444}" "${auth[@]}" \
	-rpcbind=127.0.0.1 -rpcallowip=127.0.0.1 -listen=0 -dnsseed=0 -printtoconsole=0 -acceptnonstdtxn=0 &
node=$!
miner=""
cleanup() {
	[ -n "$miner" ] && kill "$miner" 2>/dev/null || true
	cli stop >/dev/null 2>&1 || kill "$node" 2>/dev/null || true
	wait "$node" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
	kill -0 "$node" 2>/dev/null || { echo "litecoind exited at start (is port $rpcport taken? set REGTEST_RPC_PORT)" >&2; exit 1; }
	cli getblockchaininfo >/dev/null 2>&1 && break
	sleep 0.2
done
cli getblockchaininfo >/dev/null
cli createwallet payer >/dev/null
cli createwallet recipient >/dev/null
mine_to=$(cli -rpcwallet=payer getnewaddress)
cli generatetoaddress 101 "$mine_to" >/dev/null
(while sleep "${REGTEST_BLOCK_INTERVAL:-10}"; do cli generatetoaddress 1 "$mine_to" >/dev/null || exit 0; done) &
miner=$!

cat <<MSG
litecoind -regtest is up (RPC 127.0.0.1:$rpcport), its payer wallet holds $(cli -rpcwallet=payer getbalance) LTC,
and a block is mined every ${REGTEST_BLOCK_INTERVAL:-10}s. Recipient addresses for your LTC withdrawals:

  export LTC_ADDRESS=$(cli -rpcwallet=recipient getnewaddress "" bech32)
  export LTC_ADDRESS_LEGACY=$(cli -rpcwallet=recipient getnewaddress "" legacy)

What the recipient wallet received:
  litecoin-cli -regtest -datadir=$dir -rpcport=$rpcport ${auth[*]} -rpcwallet=recipient listreceivedbyaddress 0

MSG
PAYOUT_LTC=bitcoind BITCOIND_LTC_RPC_URL="http://regtest:regtest@127.0.0.1:$rpcport/wallet/payer" \
	LITECOIN_NETWORK=regtest LITECOIN_CONFIRMATIONS=${LITECOIN_CONFIRMATIONS:-2} \
	BITCOIND_LTC_FALLBACK_FEE_RATE=${BITCOIND_LTC_FALLBACK_FEE_RATE:-20} make --no-print-directory run
