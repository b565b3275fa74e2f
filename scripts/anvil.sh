#!/usr/bin/env bash
# make anvil: the service paying ETH and USDT for real on a throwaway anvil (a local
# Ethereum node, pinned in tools/evm) on 127.0.0.1, which mines a block every
# ANVIL_BLOCK_TIME seconds (2). The project's TestUSD token stands for USDT: it is
# deployed, and the hot wallet (anvil's second development account, whose key is public:
# local use only) gets 1,000,000 of it on top of its 10,000 ETH.
# Ctrl-C stops the service and the node, which keeps nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
anvil=$(scripts/evm-tools.sh)
port=${ANVIL_PORT:-8545}
url="http://127.0.0.1:$port"
dir=$(mktemp -d -t withdrawals-anvil-XXXXXX)

"$anvil" --host 127.0.0.1 --port "$port" --chain-id 31337 --block-time "${ANVIL_BLOCK_TIME:-2}" --silent &
node=$!
cleanup() { kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

rpc() { curl -sf -H 'Content-Type: application/json' -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$url"; }
result() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);if(r.error){console.error(r.error.message);process.exit(1)}const v=r.result==null?"":process.argv[1]?r.result[process.argv[1]]:r.result;console.log(v??"")})' "${1:-}"; }
receipt() {
	for _ in $(seq 1 100); do
		addr=$(rpc eth_getTransactionReceipt "[\"$1\"]" | result "${2:-status}") && [ -n "$addr" ] && { echo "$addr"; return; }
		sleep 0.2
	done
	echo "no receipt for $1" >&2
	return 1
}

for _ in $(seq 1 150); do
	kill -0 "$node" 2>/dev/null || { echo "anvil exited at start (is port $port taken? set ANVIL_PORT)" >&2; exit 1; }
	rpc eth_chainId '[]' >/dev/null 2>&1 && break
	sleep 0.2
done

dev=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
hot=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
printf '%s\n' 59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d > "$dir/hot.key"
chmod 600 "$dir/hot.key"
bytecode=$(node -p 'require("./rails/evm/testdata/TestUSD.json").bytecode')
deploy=$(rpc eth_sendTransaction "[{\"from\":\"$dev\",\"data\":\"$bytecode\"}]" | result)
token=$(receipt "$deploy" contractAddress)
pad() { printf '%064s' "${1#0x}" | tr ' ' 0; }
mint=$(rpc eth_sendTransaction "[{\"from\":\"$dev\",\"to\":\"$token\",\"data\":\"0x40c10f19$(pad "$hot")$(pad "$(printf '%x' 1000000000000)")\"}]" | result)
receipt "$mint" >/dev/null

cat <<MSG
anvil is up ($url, chain id 31337, a block every ${ANVIL_BLOCK_TIME:-2}s). The hot wallet $hot
holds 10000 ETH and 1000000 TestUSD ($token), which stands for USDT here.
Recipient addresses for your ETH and USDT withdrawals (anvil's development accounts 3 and 4):

  export ETH_ADDRESS=0x90F79bf6EB2c4f870365E785982E1f101E93b906
  export USDT_ADDRESS=0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65

Their balances:
  curl -s $url -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x90F79bf6EB2c4f870365E785982E1f101E93b906","latest"]}'

MSG
PAYOUT_ETH=evm PAYOUT_USDT_ETHEREUM=evm EVM_RPC_URL="$url" EVM_SIGNER_KEY_FILE="$dir/hot.key" EVM_CHAIN_ID=31337 \
	USDT_ETHEREUM_CONTRACT="$token" EVM_CONFIRMATIONS=${EVM_CONFIRMATIONS:-3} make --no-print-directory run
