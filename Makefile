# Every target works on a fresh checkout: scripts/dev-db.sh finds or starts PostgreSQL.
SHELL := bash
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
REDOCLY := @redocly/cli@2.11.0

# DATABASE_URL / TEST_DATABASE_URL win when set; otherwise the local server (or a
# project-local cluster) from scripts/dev-db.sh.
WITH_DB = if [ -z "$${DATABASE_URL:-}" ]; then server=$$(scripts/dev-db.sh) && export DATABASE_URL="$$server/withdrawals?sslmode=disable"; fi
WITH_TEST_DB = if [ -z "$${TEST_DATABASE_URL:-}" ]; then server=$$(scripts/dev-db.sh) && export TEST_DATABASE_URL="$$server/postgres?sslmode=disable"; fi

.PHONY: help run regtest anvil test chain lint bench ceiling scale microbench chaos fuzz migrate build sdk

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: ## Run the service on 127.0.0.1:8080 (local database, demo merchant and keys printed)
	@$(WITH_DB); DEMO_SEED=$${DEMO_SEED:-true} PAYOUT_BATCH_INTERVAL=$${PAYOUT_BATCH_INTERVAL:-10s} \
		WEBHOOK_ALLOW_PRIVATE_URLS=$${WEBHOOK_ALLOW_PRIVATE_URLS:-true} WHITELIST_COOLDOWN=$${WHITELIST_COOLDOWN:-0s} \
		go run ./cmd/withdrawals serve

regtest: ## Run the service paying LTC from a throwaway litecoind -regtest wallet (blocks mined every 10s)
	@scripts/regtest.sh

anvil: ## Run the service paying ETH and USDT (a test token) from a hot wallet on a throwaway anvil (a block every 2s)
	@scripts/anvil.sh

test: ## Run the whole test suite against a real PostgreSQL, the chain tests against litecoind -regtest and anvil, the console in Chromium, the SDKs' journeys (installed when missing)
	@scripts/litecoind.sh && scripts/evm-tools.sh >/dev/null && scripts/chromium.sh && scripts/console-tools.sh && scripts/sdk-tools.sh && $(WITH_TEST_DB); go test -race -count=1 ./... && cd bench && go test -count=1 ./...

chain: ## Only the chain tests: the Bitcoin Core and Ethereum rails, and the API paying through throwaway litecoind -regtest and anvil nodes
	@scripts/litecoind.sh && scripts/evm-tools.sh >/dev/null && $(WITH_TEST_DB); go test -count=1 -v ./rails/bitcoind/ ./rails/evm/ ./chain/

lint: ## gofmt, go vet, staticcheck, the OpenAPI lint (Redocly recommended rules), the test token's artifact against its source, the vendored Redoc bundle against its npm package, both SDKs regenerated from openapi.yaml, and the alert rules (promtool check and unit tests)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	go vet ./... && cd bench && go vet ./... && cd ../sdk/go && go vet ./...
	go run $(STATICCHECK) ./... && cd bench && go run $(STATICCHECK) ./... && cd ../sdk/go && go run $(STATICCHECK) ./...
	npx --yes $(REDOCLY) lint openapi.yaml
	@scripts/evm-tools.sh >/dev/null && node tools/evm/build-token.mjs --check
	@scripts/redoc.sh
	@scripts/sdk.sh --check
	@scripts/promtool.sh && promtool check rules deploy/prometheus/alerts.yml && cd deploy/prometheus && promtool test rules alerts_test.yml

bench: ## Load-test the real binary against the pgbench reference (a few minutes, loopback only)
	@bench/scripts/bench.sh

ceiling: ## What bare Echo servers reach on the balance read, next to the pgbench reference (a minute, loopback only)
	@bench/scripts/ceiling.sh

scale: ## Read paths through the API as one merchant's history grows to 10k, 1M and 10M withdrawals (SCALE_SIZES; the 10M history takes ~30 GB and most of an hour)
	@bench/scripts/scale.sh

microbench: ## Go benchmarks: fee calculation, address checks, withdrawal creation in-process
	@$(WITH_TEST_DB); go test -run '^$$' -bench . -benchmem ./...

chaos: ## Faults under load against the real binary on its own PostgreSQL cluster, then every invariant checked (about five minutes, loopback only)
	@bench/scripts/chaos.sh

fuzz: ## Fuzz amount parsing and formatting, addresses, request bodies (field names, NUL, duplicates), metadata, filters and webhook signatures (FUZZTIME each, default 30s)
	@for t in "FuzzParseAmount ./models" "FuzzFormatAmount ./models" "FuzzValidate ./services/address" "FuzzBindJSON ./handlers" \
		"FuzzCheckJSONShape ./handlers" "FuzzCanonicalMetadata ./services/withdrawals" "FuzzParseListFilter ./handlers" "FuzzSignVerify ./internal/webhookhttp"; do set -- $$t; \
		echo "== $$1"; go test -run '^$$' -fuzz "^$$1$$" -fuzztime $${FUZZTIME:-30s} $$2 || exit 1; done

migrate: ## Apply database migrations to DATABASE_URL
	@$(WITH_DB); go run ./cmd/withdrawals migrate

build: ## Build bin/withdrawals
	go build -o bin/withdrawals ./cmd/withdrawals

sdk: ## Build the TypeScript SDK and pack it into bin/sdk (npm install that file)
	@scripts/sdk-tools.sh && cd sdk/typescript && npm run build --silent && mkdir -p ../../bin/sdk && npm pack --pack-destination ../../bin/sdk --silent >/dev/null && ls ../../bin/sdk/*.tgz
