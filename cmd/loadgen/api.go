package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// api is an HTTP client with a fixed pool of keep-alive connections.
type api struct {
	base string
	http *http.Client
}

func newAPI(base string, conns int) *api {
	t := &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, MaxConnsPerHost: conns * 2, IdleConnTimeout: time.Minute}
	return &api{base: base, http: &http.Client{Transport: t, Timeout: 30 * time.Second}}
}

// requireLoopback refuses any target but this machine: load is only ever sent to 127.0.0.0/8 or ::1.
func requireLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	ip := net.ParseIP(u.Hostname())
	if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("refusing to load %s: loopback addresses only", raw)
	}
	return nil
}

// call sends one request; body is JSON-encoded when not nil.
func (a *api) call(ctx context.Context, method, path, key string, body any, header map[string]string) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
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
