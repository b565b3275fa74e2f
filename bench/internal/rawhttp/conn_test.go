package rawhttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The raw client reads both response framings the service uses (a fixed length, and
// chunks for bodies larger than the server's buffer) and keeps the connection usable
// for the next request.
func TestConnReadsLengthAndChunkedResponses(t *testing.T) {
	big := strings.Repeat("x", 64<<10)
	var gotKey, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		switch r.URL.Path {
		case "/small":
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"ok":true}`)
		case "/big":
			_, _ = io.WriteString(w, big) // larger than the server's buffer: chunked
		}
	}))
	defer srv.Close()

	c, err := Dial(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, step := range []struct {
		method, path string
		body         []byte
		want         int
	}{
		{"POST", "/small", []byte(`{"a":1}`), 201},
		{"GET", "/big", nil, 200},
		{"GET", "/small", nil, 201},
	} {
		status, err := c.Do(step.method, step.path, "k1", "Idempotency-Key: x\r\n", step.body)
		if err != nil || status != step.want {
			t.Fatalf("request %d: status %d, %v; want %d", i, status, err, step.want)
		}
		if gotKey != "Bearer k1" || gotBody != string(step.body) {
			t.Fatalf("request %d: server saw key %q body %q", i, gotKey, gotBody)
		}
	}
}
