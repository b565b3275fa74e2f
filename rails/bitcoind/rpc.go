package bitcoind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// client speaks Bitcoin Core's JSON-RPC over HTTP. The credentials from the URL travel
// only in the Authorization header: the URL it requests, and so every error it
// returns, carries none.
type client struct {
	endpoint string // scheme://host:port/path, no user info
	user     string
	password string
	http     *http.Client
}

func newClient(rawURL string, hc *http.Client) (*client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("the node's RPC URL must look like http://user:password@host:port/wallet/NAME")
	}
	c := &client{http: hc}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
	}
	u.User = nil
	c.endpoint = u.String()
	return c, nil
}

// RPCError is an error the node answered with: its JSON-RPC code and message.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("node error %d: %s", e.Code, e.Message) }

// Bitcoin Core's RPC error codes this rail acts on (src/rpc/protocol.h).
const (
	codeInvalidAddressOrKey = -5  // unknown transaction, or not in the mempool
	codeInvalidParameter    = -8  // e.g. an amount the node refuses
	codeWalletError         = -4  // e.g. the fee is above -maxtxfee
	codeInsufficientFunds   = -6  // insufficient funds, or an amount below dust
	codeWalletNotFound      = -18 // the URL names no loaded wallet
)

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      int    `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type response struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
}

// call runs one method and decodes its result into out (when not nil).
func (c *client) call(ctx context.Context, out any, method string, params ...any) error {
	var resp response
	if err := c.post(ctx, request{JSONRPC: "1.0", Method: method, Params: params}, &resp); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("%s: %w", method, resp.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Result, out); err != nil {
		return fmt.Errorf("%s: decode result: %w", method, err)
	}
	return nil
}

// batch runs the same method once per parameter list in one HTTP request (JSON-RPC
// batch), and returns each call's raw result or error in order.
func (c *client) batch(ctx context.Context, method string, params [][]any) ([]response, error) {
	reqs := make([]request, len(params))
	for i, p := range params {
		reqs[i] = request{JSONRPC: "1.0", ID: i, Method: method, Params: p}
	}
	var resps []response
	if err := c.post(ctx, reqs, &resps); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	out := make([]response, len(params))
	seen := make([]bool, len(params))
	for _, r := range resps {
		if r.ID < 0 || r.ID >= len(out) {
			return nil, fmt.Errorf("%s: answer to a call never made (id %d)", method, r.ID)
		}
		out[r.ID], seen[r.ID] = r, true
	}
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("%s: no answer for call %d", method, i)
		}
	}
	return out, nil
}

func (c *client) post(ctx context.Context, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	// The node answers RPC errors with a JSON body and a 4xx/5xx status; anything else
	// without JSON (401 for wrong credentials, a proxy's page) is reported by its status.
	if err := json.Unmarshal(data, out); err != nil {
		if resp.StatusCode == http.StatusUnauthorized {
			return errors.New("the node refused the RPC credentials (HTTP 401)")
		}
		return fmt.Errorf("HTTP %d from the node: %s", resp.StatusCode, strings.TrimSpace(string(truncate(data, 200))))
	}
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// isCode reports whether err is the node's answer with the given code.
func isCode(err error, code int) bool {
	var rpcErr *RPCError
	return errors.As(err, &rpcErr) && rpcErr.Code == code
}
