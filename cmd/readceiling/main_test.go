package main

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadHeadFindsStatusAndLengthAndLeavesTheBody(t *testing.T) {
	answers := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 11\r\n\r\n{\"data\":[]}" +
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
	r := bufio.NewReader(strings.NewReader(answers))
	status, length, err := readHead(r)
	if err != nil || status != 200 || length != 11 {
		t.Fatalf("first answer: status %d length %d err %v, want 200 11 nil", status, length, err)
	}
	if _, err := r.Discard(length); err != nil {
		t.Fatal(err)
	}
	status, length, err = readHead(r)
	if err != nil || status != 503 || length != 0 {
		t.Fatalf("second answer: status %d length %d err %v, want 503 0 nil", status, length, err)
	}
}

func TestReadHeadRefusesWhatItCannotFrame(t *testing.T) {
	for name, answer := range map[string]string{
		"chunked":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"not HTTP":  "SSH-2.0-OpenSSH\r\n\r\n",
		"truncated": "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n",
	} {
		if _, _, err := readHead(bufio.NewReader(strings.NewReader(answer))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
