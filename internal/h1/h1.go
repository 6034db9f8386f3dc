// Package h1 is the gateway's own HTTP/1.1 on plaintext connections: a
// client for upstreams (Transport, h1.go) and a server for clients
// (Server, server.go).
//
// Transport is an http.RoundTripper that writes the request and reads the
// answer on the caller's goroutine.
//
// net/http's Transport gives every connection a read goroutine and a write
// goroutine and hands each request and response between them over channels.
// On a gateway that costs about a third of the CPU of a minimal proxy hop
// (futex wake-ups and scheduling for every request) and a third of its
// throughput; see BENCHMARKS.md. A local inference server (vLLM, Ollama, TGI)
// or a sidecar speaks plain HTTP/1.1, so for http:// base URLs the providers
// use this Transport instead; https:// upstreams keep net/http (TLS and
// HTTP/2).
//
// It does what an API client needs and no more: Content-Length and chunked
// request and response bodies, keep-alive with an idle pool per host, a bound
// on connections per host, context cancellation at any point (the connection
// is closed), one retry on a fresh connection when a reused one turns out to
// have been closed by the server before it answered. It does not follow
// redirects, decompress, use proxies or speak TLS.
package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Transport is an HTTP/1.1 http.RoundTripper for http:// URLs. The zero
// value is usable; it must not be copied after first use.
type Transport struct {
	// DialContext makes new connections; nil means a net.Dialer with
	// 30 s TCP keep-alive.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdlePerHost bounds the idle connections kept per host; 0 means 256.
	MaxIdlePerHost int
	// MaxConnsPerHost bounds the connections per host, in use or idle
	// being reused; a request past it waits for one. 0 means no bound.
	MaxConnsPerHost int
	// IdleTimeout is how long an idle connection is kept; 0 means 90 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a response's status line and headers; 0
	// means 1 MiB.
	MaxHeaderBytes int
	// SuccessHeaders, when set, are the only headers a 2xx response's
	// Header keeps, besides its framing (Content-Length, Transfer-Encoding,
	// Connection); the others are checked and dropped. A gateway reads
	// little of a successful answer's head, and a provider sends a dozen
	// headers or more: building them into a map was most of the cost of
	// reading the head. Other statuses keep every header (an error's
	// Retry-After, rate-limit and error-type headers are read).
	SuccessHeaders []string

	mu    sync.Mutex
	hosts map[string]*host
}

// host is the pool of one host:port.
type host struct {
	idle []*conn       // LIFO: the most recently used on top
	sem  chan struct{} // nil without MaxConnsPerHost
}

// conn is one connection. Its read buffer is attached only while a request
// is in flight, so that idle connections hold no buffers.
type conn struct {
	nc     net.Conn
	addr   string
	br     *bufio.Reader
	idleAt time.Time
	reused bool
	sem    chan struct{}
}

// ErrNotHTTP is returned for a URL this Transport cannot serve.
var ErrNotHTTP = errors.New("h1: only http:// URLs are supported")

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}

var headBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// aLongTimeAgo is a deadline in the past: setting it makes blocked reads and
// writes return at once.
var aLongTimeAgo = time.Unix(1, 0)

// RoundTrip sends req and returns the response, whose Body reads from the
// connection; closing the Body before its end closes the connection.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		closeBody(req)
		return nil, ErrNotHTTP
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeBody(req)
		return nil, err
	}
	head, err := appendHead((*headBufs.Get().(*[]byte))[:0], req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	defer func() { headBufs.Put(&head) }()
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	h := t.host(addr)
	if h.sem != nil {
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			closeBody(req)
			return nil, ctx.Err()
		}
	}
	for try := 0; ; try++ {
		c, err := t.get(ctx, h, addr)
		if err != nil {
			release(h.sem)
			closeBody(req)
			return nil, err
		}
		c.sem = h.sem
		resp, retry, err := t.exchange(ctx, c, req, head)
		if err == nil {
			return resp, nil
		}
		// Only a reused connection that failed before any byte of an
		// answer may be retried, and only when the body can be sent again.
		if !retry || try > 0 || !c.reused || !resendable(req) {
			release(h.sem)
			closeBody(req)
			return nil, err
		}
		if _, ok := req.Body.(*Bytes); !ok && req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				release(h.sem)
				return nil, err
			}
			req.Body = body
		}
	}
}

// resendable reports whether req's body can be sent again: none, a Bytes
// (always written whole), or one GetBody can make again.
func resendable(req *http.Request) bool {
	if _, ok := req.Body.(*Bytes); ok {
		return true
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func release(sem chan struct{}) {
	if sem != nil {
		<-sem
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// exchange writes req on c and reads the response head. On failure the
// connection is closed; retry reports that no byte of an answer had arrived.
func (t *Transport) exchange(ctx context.Context, c *conn, req *http.Request, head []byte) (_ *http.Response, retry bool, err error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	fail := func(e error) (*http.Response, bool, error) {
		stop()
		c.nc.Close()
		c.detach()
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, cerr
		}
		return nil, retry, e
	}
	if err := writeRequest(c.nc, head, req); err != nil {
		retry = true
		return fail(fmt.Errorf("h1: write request: %w", err))
	}
	c.br = readers.Get().(*bufio.Reader)
	c.br.Reset(c.nc)
	resp, err := t.readResponse(c.br, req)
	if err != nil {
		retry = errors.Is(err, errNoAnswer)
		return fail(err)
	}
	if resp.Body, err = t.newBody(c, resp, req, stop); err != nil {
		return fail(err)
	}
	return resp, false, nil
}

// writeRequest sends the head and the body, in one writev when the body is
// a Body of bytes.
func writeRequest(nc net.Conn, head []byte, req *http.Request) error {
	switch b := req.Body.(type) {
	case nil:
		_, err := nc.Write(head)
		return err
	case *Bytes:
		bufs := net.Buffers{head, b.b}
		_, err := bufs.WriteTo(nc)
		return err
	default:
		if req.Body == http.NoBody {
			_, err := nc.Write(head)
			return err
		}
		w := bufio.NewWriterSize(nc, 16<<10)
		w.Write(head)
		if _, err := io.Copy(w, io.LimitReader(req.Body, req.ContentLength)); err != nil {
			return err
		}
		return w.Flush()
	}
}

// appendHead appends the request line and headers of req.
func appendHead(b []byte, req *http.Request) ([]byte, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !httpguts.ValidHeaderFieldName(method) {
		return b, fmt.Errorf("h1: invalid method %q", method)
	}
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	hostHeader := req.Host
	if hostHeader == "" {
		hostHeader = req.URL.Host
	}
	if !httpguts.ValidHostHeader(hostHeader) {
		return b, errors.New("h1: invalid Host")
	}
	b = append(b, hostHeader...)
	b = append(b, "\r\n"...)
	if _, ok := req.Header["User-Agent"]; !ok {
		b = append(b, "User-Agent: Go-http-client/1.1\r\n"...)
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		if req.ContentLength < 0 || (hasBody && req.ContentLength == 0) {
			return b, errors.New("h1: a request body needs a known ContentLength")
		}
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n"...)
	}
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			continue // set above, or hop-by-hop
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return b, fmt.Errorf("h1: invalid header name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return b, fmt.Errorf("h1: invalid value for header %s", k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...), nil
}

// errNoAnswer marks a response that ended before its first byte: on a
// reused connection, the server had closed it while idle.
var errNoAnswer = errors.New("h1: connection closed before the response")

// readResponse reads the status line and headers, skipping 1xx answers.
func (t *Transport) readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	limit := t.MaxHeaderBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	first := true
	for {
		line, err := readLine(br, &limit)
		if err != nil {
			if first && (errors.Is(err, io.EOF) || isReset(err)) && br.Buffered() == 0 {
				return nil, errNoAnswer
			}
			return nil, fmt.Errorf("h1: read status line: %w", err)
		}
		first = false
		resp, err := parseStatus(line)
		if err != nil {
			return nil, err
		}
		resp.Request = req
		var keep []string
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			keep = t.SuccessHeaders
		}
		if resp.Header, err = readHeader(br, &limit, keep); err != nil {
			return nil, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		return resp, nil
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// readLine reads one CRLF- or LF-terminated line without its terminator,
// counting it against limit. The line is only valid until the next read.
func readLine(br *bufio.Reader, limit *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("h1: response header line too long")
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if *limit -= len(line); *limit < 0 {
		return nil, errors.New("h1: response headers too large")
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatus parses "HTTP/1.x NNN reason".
func parseStatus(line []byte) (*http.Response, error) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (line[7] != '0' && line[7] != '1') {
		return nil, fmt.Errorf("h1: malformed status line %q", truncate(line))
	}
	code := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return nil, fmt.Errorf("h1: malformed status code in %q", truncate(line))
		}
		code = code*10 + int(d-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return nil, fmt.Errorf("h1: malformed status line %q", truncate(line))
	}
	if code < 100 {
		return nil, fmt.Errorf("h1: status code %d out of range", code)
	}
	minor := int(line[7] - '0')
	return &http.Response{
		Status:     statusText(code, line),
		StatusCode: code,
		Proto:      protos[minor],
		ProtoMajor: 1,
		ProtoMinor: minor,
	}, nil
}

var protos = [2]string{"HTTP/1.0", "HTTP/1.1"}

// statusText is resp.Status ("200 OK") without allocating for the reasons
// net/http knows.
func statusText(code int, line []byte) string {
	reason := ""
	if len(line) > 13 {
		reason = string(bytes.TrimSpace(line[13:]))
	}
	if known := http.StatusText(code); known == reason || reason == "" {
		if s, ok := statusLines[code]; ok {
			return s
		}
	}
	return strconv.Itoa(code) + " " + reason
}

var statusLines = func() map[int]string {
	m := map[int]string{}
	for code := 100; code < 600; code++ {
		if t := http.StatusText(code); t != "" {
			m[code] = strconv.Itoa(code) + " " + t
		}
	}
	return m
}()

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// readHeader reads header lines up to the empty line, with canonical keys.
// With keep set, only the framing headers and those named in keep are kept.
func readHeader(br *bufio.Reader, limit *int, keep []string) (http.Header, error) {
	hb := getHeaderBuf()
	defer putHeaderBuf(hb)
	for {
		line, err := readLine(br, limit)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("h1: read headers: %w", err)
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, errors.New("h1: obsolete header line folding in the response")
		}
		name, value, ok := splitField(line)
		if !ok {
			return nil, fmt.Errorf("h1: malformed header line %q", truncate(line))
		}
		if keep != nil && !kept(name, keep) {
			continue
		}
		hb.add(name, value)
	}
	return hb.header(), nil
}

// kept reports whether a header named name is framing or in keep, in any
// letter case.
func kept(name []byte, keep []string) bool {
	for _, k := range framing {
		if bytes.EqualFold([]byte(k), name) { // no allocation: the conversion stays on the stack
			return true
		}
	}
	for _, k := range keep {
		if bytes.EqualFold([]byte(k), name) {
			return true
		}
	}
	return false
}

var framing = [...]string{"Content-Length", "Transfer-Encoding", "Connection"}

// splitField splits a "name: value" header line; ok is false when the name
// is not a token.
func splitField(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 || !validTokenBytes(line[:i]) {
		return nil, nil, false
	}
	return line[:i], bytes.Trim(line[i+1:], " \t"), true
}

// span locates one header line in headerBuf.raw: the name at [k, v), the
// value at [v, end).
type span struct{ k, v, end int }

// headerBuf gathers header lines (from a read buffer that the next read
// overwrites) for header.
type headerBuf struct {
	raw   []byte
	spans []span
}

func getHeaderBuf() *headerBuf {
	hb := headerBufs.Get().(*headerBuf)
	hb.raw, hb.spans = hb.raw[:0], hb.spans[:0]
	return hb
}

func putHeaderBuf(hb *headerBuf) {
	if cap(hb.raw) <= 64<<10 {
		headerBufs.Put(hb)
	}
}

func (hb *headerBuf) add(name, value []byte) {
	sp := span{k: len(hb.raw)}
	hb.raw = append(hb.raw, name...)
	sp.v = len(hb.raw)
	hb.raw = append(hb.raw, value...)
	sp.end = len(hb.raw)
	hb.spans = append(hb.spans, sp)
}

// header builds the http.Header of the gathered lines. The values share one
// string and one []string backing array: a message carries a dozen headers
// or more, and two allocations per header added up.
func (hb *headerBuf) header() http.Header {
	h := make(http.Header, len(hb.spans))
	all := string(hb.raw)
	vals := make([]string, len(hb.spans))
	for i, sp := range hb.spans {
		key := canonicalKey(hb.raw[sp.k:sp.v])
		vals[i] = all[sp.v:sp.end]
		if prev := h[key]; prev != nil {
			h[key] = append(prev, vals[i])
		} else {
			h[key] = vals[i : i+1 : i+1]
		}
	}
	return h
}

var headerBufs = sync.Pool{New: func() any { return &headerBuf{raw: make([]byte, 0, 2048), spans: make([]span, 0, 32)} }}

// canonicalKey returns the canonical form of a header name, without
// allocating for the names answers usually carry.
func canonicalKey(b []byte) string {
	if s, ok := commonKeys[string(b)]; ok { // no allocation: map lookup by []byte conversion
		return s
	}
	return http.CanonicalHeaderKey(string(b))
}

var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Content-Type", "Content-Length", "Date", "Server", "Connection",
		"Transfer-Encoding", "Cache-Control", "Keep-Alive", "Vary", "X-Request-Id", "Retry-After",
		"Openai-Processing-Ms", "Openai-Version", "Openai-Organization", "Openai-Project",
		"X-Ratelimit-Limit-Requests", "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Requests",
		"X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Requests", "X-Ratelimit-Reset-Tokens",
		"Request-Id", "Access-Control-Expose-Headers", "Strict-Transport-Security", "Set-Cookie",
		"Alt-Svc", "Cf-Ray", "Cf-Cache-Status", "X-Content-Type-Options", "Content-Encoding",
		// What clients send the gateway (h1.Server): the SDKs' own headers too.
		"Host", "User-Agent", "Accept", "Accept-Encoding", "Authorization", "X-Api-Key", "Api-Key",
		"Anthropic-Version", "Anthropic-Beta", "Openai-Beta", "Idempotency-Key", "Traceparent", "Tracestate",
		"Expect", "X-Stainless-Lang", "X-Stainless-Package-Version", "X-Stainless-Os", "X-Stainless-Arch",
		"X-Stainless-Runtime", "X-Stainless-Runtime-Version", "X-Stainless-Retry-Count", "X-Stainless-Timeout",
		"X-Forwarded-For", "X-Real-Ip"} {
		m[k] = k
		m[strings.ToLower(k)] = k
	}
	return m
}()

// validTokenBytes is httpguts.ValidHeaderFieldName for a name still in
// the read buffer, without converting it to a string.
func validTokenBytes(b []byte) bool {
	for _, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return len(b) > 0
}

// host returns the pool of addr.
func (t *Transport) host(addr string) *host {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hosts[addr]
	if h == nil {
		if t.hosts == nil {
			t.hosts = make(map[string]*host)
		}
		h = &host{}
		if t.MaxConnsPerHost > 0 {
			h.sem = make(chan struct{}, t.MaxConnsPerHost)
		}
		t.hosts[addr] = h
	}
	return h
}

// get returns an idle connection to addr, or dials one.
func (t *Transport) get(ctx context.Context, h *host, addr string) (*conn, error) {
	idleTimeout := t.IdleTimeout
	if idleTimeout <= 0 {
		idleTimeout = 90 * time.Second
	}
	now := time.Now()
	t.mu.Lock()
	for n := len(h.idle); n > 0; n = len(h.idle) {
		c := h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		if now.Sub(c.idleAt) < idleTimeout {
			t.mu.Unlock()
			return c, nil
		}
		c.nc.Close()
	}
	t.mu.Unlock()
	dial := t.DialContext
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	return &conn{nc: nc, addr: addr}, nil
}

var defaultDialer = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}

// put returns c to its host's idle pool, or closes it when the pool is full.
func (t *Transport) put(c *conn) {
	max := t.MaxIdlePerHost
	if max <= 0 {
		max = 256
	}
	c.idleAt = time.Now()
	c.reused = true
	t.mu.Lock()
	h := t.hosts[c.addr]
	if h == nil || len(h.idle) >= max {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	h.idle = append(h.idle, c)
	t.mu.Unlock()
}

// detach gives the connection's read buffer back.
func (c *conn) detach() {
	if c.br != nil {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.br = nil
	}
}

// CloseIdleConnections closes the idle connections; those in use are closed
// when their answers end.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	var idle []*conn
	for addr, h := range t.hosts {
		idle = append(idle, h.idle...)
		h.idle = nil
		if len(h.sem) == 0 { // unbounded, or no request holds one of its connections
			delete(t.hosts, addr)
		}
	}
	t.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// Bytes is a request body held in memory. The Transport writes it with the
// request head in one writev, without copying it; other Transports read it
// like a bytes.Reader.
type Bytes struct {
	bytes.Reader
	b []byte
}

// NewBytes returns a request body reading b; b must not change while the
// request is in flight.
func NewBytes(b []byte) *Bytes {
	r := &Bytes{b: b}
	r.Reset(b)
	return r
}

// Close does nothing: the bytes are the caller's.
func (*Bytes) Close() error { return nil }
