package withdrawals

// The client and its types are generated from the contract by oapi-codegen, pinned
// here; scripts/sdk.sh runs this and CI fails when client.gen.go is stale.
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml ../../openapi.yaml
