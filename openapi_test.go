package withdrawals_test

import (
	"context"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/paycore/withdrawals"
	"github.com/paycore/withdrawals/services/webhooks"
)

func loadContract(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(withdrawals.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	// Validate checks every example against its schema too.
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatal(err)
	}
	return doc
}

// The contract is complete for an integrator: OpenAPI 3.1, an example on every
// request and response that has a body, an example of every error code, and every event the
// service sends in its webhooks section. (That responses and webhook bodies match it is
// checked on every one the tests receive: internal/apitest.)
func TestContractIsComplete(t *testing.T) {
	doc := loadContract(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %s: want 3.1", doc.OpenAPI)
	}

	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody != nil {
				for media, content := range op.RequestBody.Value.Content {
					if content.Example == nil && len(content.Examples) == 0 {
						t.Errorf("%s %s: request body (%s) has no example", method, path, media)
					}
				}
			}
			for status, resp := range op.Responses.Map() {
				for media, content := range resp.Value.Content {
					if content.Example == nil && len(content.Examples) == 0 {
						t.Errorf("%s %s %s (%s): no example", method, path, status, media)
					}
				}
			}
		}
	}

	codes := map[string]bool{}
	for _, ex := range doc.Components.Examples {
		if body, ok := ex.Value.Value.(map[string]any); ok {
			if code, ok := body["error"].(string); ok {
				codes[code] = true
			}
		}
	}
	errSchema := doc.Components.Schemas["Error"].Value
	for _, ex := range errSchema.Examples {
		if body, ok := ex.(map[string]any); ok {
			codes[body["error"].(string)] = true
		}
	}
	for _, code := range errSchema.Properties["error"].Value.Enum {
		if !codes[code.(string)] {
			t.Errorf("error code %s has no example", code)
		}
	}

	for _, event := range append(slices.Clone(webhooks.EventTypes), webhooks.EventPing) {
		item := doc.Webhooks[event]
		if item == nil || item.Post == nil || item.Post.RequestBody == nil {
			t.Errorf("webhook event %s is not in the contract's webhooks", event)
		}
	}
	if len(doc.Webhooks) != len(webhooks.EventTypes)+1 {
		t.Errorf("the contract lists %d webhook events, the service sends %d", len(doc.Webhooks), len(webhooks.EventTypes)+1)
	}
}

// The contract's examples are checked against their schemas: one that is not must fail.
func TestContractExamplesAreValidated(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(withdrawals.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	doc.Components.Examples["NOT_FOUND"].Value.Value = map[string]any{"error": "NO_SUCH_CODE", "message": "x", "statusCode": 404}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err == nil {
		t.Error("an example with an unknown error code passed validation")
	}
}
