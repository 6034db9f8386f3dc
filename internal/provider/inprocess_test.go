package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHandlerTransport(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Seen", string(body))
			w.WriteHeader(201)
			w.Write([]byte("hello"))
		case "/implicit":
			w.Write([]byte("no WriteHeader"))
		case "/abort":
			w.Write([]byte("partial"))
			panic(http.ErrAbortHandler)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
				w.WriteHeader(200)
			}
		}
	})
	c := &http.Client{Transport: HandlerTransport{Handler: h}}

	resp, err := c.Post("http://sim/ok", "text/plain", strings.NewReader("ping"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || string(b) != "hello" || resp.Header.Get("X-Seen") != "ping" {
		t.Errorf("/ok = %d %q seen %q", resp.StatusCode, b, resp.Header.Get("X-Seen"))
	}

	resp, err = c.Get("http://sim/implicit")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "no WriteHeader" {
		t.Errorf("/implicit = %d %q", resp.StatusCode, b)
	}

	resp, err = c.Get("http://sim/abort")
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "partial" {
		t.Errorf("/abort read = %q, %v; want the partial body and io.ErrUnexpectedEOF", b, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://sim/slow", nil)
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("/slow with a 50ms deadline: err = %v, want DeadlineExceeded", err)
	}
}
