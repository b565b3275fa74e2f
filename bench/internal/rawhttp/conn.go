// Package rawhttp is a minimal keep-alive HTTP/1.1 client for load generators: requests
// are assembled into a reused buffer and responses parsed in place.
package rawhttp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// Conn is one keep-alive HTTP/1.1 connection owned by one worker of a timed phase.
// Requests are assembled into a reused buffer and responses parsed in place, so the
// load generator spends little more than its socket calls per request, as pgbench does
// in the reference run. The Go HTTP client took a fifth of the machine's CPU on reads,
// CPU taken from the service it measures on the same two cores.
type Conn struct {
	addr, host string
	nc         net.Conn
	r          *bufio.Reader
	req        []byte
}

// Dial connects to the host of base (a URL).
func Dial(base string) (*Conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	c := &Conn{addr: u.Host, host: u.Host}
	return c, c.redial()
}

func (c *Conn) redial() error {
	if c.nc != nil {
		_ = c.nc.Close()
	}
	nc, err := net.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	c.nc, c.r = nc, bufio.NewReaderSize(nc, 16<<10)
	return nil
}

func (c *Conn) Close() { _ = c.nc.Close() }

// Do sends one request and reads the whole response, returning its status. header is
// pre-formatted "Name: value\r\n" lines. After an error the connection is replaced
// for the next request; the error is counted, never retried here.
func (c *Conn) Do(method, path, key, header string, body []byte) (int, error) {
	b := c.req[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nAuthorization: Bearer "...)
	b = append(b, key...)
	b = append(b, "\r\n"...)
	b = append(b, header...)
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.req = b
	status, err := c.roundTrip()
	if err != nil {
		if derr := c.redial(); derr != nil {
			return 0, errors.Join(err, derr)
		}
	}
	return status, err
}

var errMalformed = errors.New("malformed response")

func (c *Conn) roundTrip() (int, error) {
	if _, err := c.nc.Write(c.req); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 201 Created\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	length, chunked := int64(-1), false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return 0, fmt.Errorf("%w: content-length %q", errMalformed, value)
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			chunked = asciiEqualFold(value, "chunked")
		}
	}
	switch {
	case chunked:
		return status, c.discardChunked()
	case length >= 0:
		_, err = c.r.Discard(int(length))
		return status, err
	default:
		return 0, fmt.Errorf("%w: neither Content-Length nor chunked", errMalformed)
	}
}

func (c *Conn) discardChunked() error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil {
			return fmt.Errorf("%w: chunk size %q", errMalformed, size)
		}
		if n == 0 { // last chunk; no trailers are sent by the service
			_, err = c.r.Discard(2)
			return err
		}
		if _, err := c.r.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i]|0x20, s[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}
