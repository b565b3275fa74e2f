package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/paycore/withdrawals/bench/internal/apiclient"
)

// api is the service client with a fixed pool of keep-alive connections.
type api struct{ apiclient.Client }

func newAPI(base string, conns int) *api {
	t := &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, MaxConnsPerHost: conns * 2, IdleConnTimeout: time.Minute}
	return &api{apiclient.Client{Base: base, HTTP: &http.Client{Transport: t, Timeout: 30 * time.Second}}}
}

// call sends one request.
func (a *api) call(ctx context.Context, method, path, key string, body any, header map[string]string) (int, []byte, error) {
	return a.Call(ctx, method, path, key, body, header)
}

// mustJSON calls and decodes a response that must have the wanted status.
func (a *api) mustJSON(ctx context.Context, want int, method, path, key string, body, into any) error {
	status, out, err := a.call(ctx, method, path, key, body, nil)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: %d %s", method, path, status, out)
	}
	if into != nil {
		return json.Unmarshal(out, into)
	}
	return nil
}
