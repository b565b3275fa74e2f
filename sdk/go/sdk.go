// Package withdrawals is the Go client of the Withdrawals API. Its requests, answers
// and webhook events (client.gen.go) are generated from openapi.yaml by oapi-codegen;
// this file adds what an integration needs around them: authentication, amounts as
// exact strings, idempotency keys, errors with their code, and webhook verification.
package withdrawals

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// New returns a client of the service at baseURL (e.g. http://127.0.0.1:8080) that
// authenticates with apiKey, a merchant's or an admin's.
func New(baseURL, apiKey string, opts ...ClientOption) (*ClientWithResponses, error) {
	auth := WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+apiKey)
		return nil
	})
	return NewClientWithResponses(strings.TrimRight(baseURL, "/"), append([]ClientOption{auth}, opts...)...)
}

// AmountOf is an amount as the API takes it: a decimal string, exact. (The contract also
// accepts JSON numbers, which a float would round: never use them for money.)
func AmountOf(decimal string) AmountInput {
	var a AmountInput
	_ = a.FromAmountInput0(decimal) // a string always encodes
	return a
}

// NewIdempotencyKey returns a new key. Make one per withdrawal you mean to create, keep
// it with your order, and send the same key when you retry after a timeout or a crash:
// the service answers with the withdrawal first created (Idempotent-Replayed: true) and
// locks nothing twice.
func NewIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// Idempotent sets the key on a creation's parameters.
func Idempotent(key string) *CreateWithdrawalParams {
	return &CreateWithdrawalParams{IdempotencyKey: &key}
}

// APIError is an error answer: its status, its contract code and the request's id
// (quote it to support).
type APIError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("withdrawals API: HTTP %d", e.Status)
	}
	return fmt.Sprintf("withdrawals API: %s: %s", e.Code, e.Message)
}

// Check turns an answer that is not 2xx into an *APIError: pass it the
// HTTPResponse and Body of any ...WithResponse call.
func Check(resp *http.Response, body []byte) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &APIError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID")}
	var known Error
	if json.Unmarshal(body, &known) == nil {
		e.Code, e.Message = string(known.Error), known.Message
	}
	return e
}

// WebhookVerifier checks webhook requests' signatures (Standard Webhooks, with a
// five-minute window on webhook-timestamp) and decodes their events.
type WebhookVerifier struct{ wh *standardwebhooks.Webhook }

// NewWebhookVerifier takes the endpoint's secret (whsec_...), shown when it was created
// or rotated.
func NewWebhookVerifier(secret string) (*WebhookVerifier, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, err
	}
	return &WebhookVerifier{wh: wh}, nil
}

// Event is a verified webhook event: Type tells which of the generated event types
// Decode fills (WithdrawalConfirmedEvent for "withdrawal.confirmed", and so on).
type Event struct {
	ID   string `json:"id"`
	Type string `json:"event"`
	raw  []byte
}

// Decode fills v, one of the generated ...Event types, from the event's body.
func (e Event) Decode(v any) error { return json.Unmarshal(e.raw, v) }

// Verify checks the signature of body, exactly as received, against header, and
// returns its event.
func (v *WebhookVerifier) Verify(body []byte, header http.Header) (Event, error) {
	if err := v.wh.Verify(body, header); err != nil {
		return Event{}, err
	}
	e := Event{raw: body}
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, fmt.Errorf("webhook body: %w", err)
	}
	return e, nil
}
