package h1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/net/http/httpguts"
)

// Server serves HTTP/1.0 and HTTP/1.1 to an http.Handler on a plaintext
// listener: the client-facing half of what Transport is to upstreams.
//
// net/http's server, per request, starts a goroutine that reads the
// connection while the handler runs (to notice a client that went away),
// stops it again with two read deadlines, arms and disarms more deadlines for
// its timeouts and clones the response headers. On a gateway hop that is
// about a tenth of the CPU. Here a connection's one goroutine reads its
// requests and runs the handler, and only a handler that runs longer than
// watchAfter gets a second goroutine watching the socket, so that a client's
// close cancels it: a request answered sooner costs no hand-off between
// goroutines. Timeouts are enforced by one sweeper per Server instead of
// per-request deadlines.
//
// Supported: keep-alive (HTTP/1.1 by default, HTTP/1.0 with "Connection:
// keep-alive"), pipelining, Content-Length and chunked request bodies,
// "Expect: 100-continue", Content-Length or chunked responses (a response
// that ends within [smallBody] bytes without a flush gets a Content-Length),
// http.Flusher, HEAD, graceful Shutdown. Not supported: TLS, HTTP/2, Hijack,
// trailers; serve those with net/http.
type Server struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds the time from a request's first bytes to the
	// end of its head. Default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection. Default 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request head. Default 1 MiB.
	MaxHeaderBytes int
	// ErrorLog receives handler panics and accept errors; nil means
	// slog.Default().
	ErrorLog *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*sconn]struct{}
	closing   atomic.Bool
	stop      chan struct{} // closed by Shutdown and Close: ends the sweeper
	clock     atomic.Int64  // coarse now, unix nanoseconds, kept by the sweeper
}

// smallBody is how much of a response is held back before its head is
// written, so that a response ending within it gets a Content-Length.
const smallBody = 4 << 10

// discardLimit is how much of an unread request body is read and dropped
// after the handler to keep the connection; past it the connection closes.
const discardLimit = 256 << 10

// lingerTime bounds the wait for a client to close after a response sent
// with its request's input unread.
const lingerTime = 500 * time.Millisecond

func (s *Server) headerTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return 10 * time.Second
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return 120 * time.Second
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return 1 << 20
}

func (s *Server) logger() *slog.Logger {
	if s.ErrorLog != nil {
		return s.ErrorLog
	}
	return slog.Default()
}

// Serve accepts connections on ln until Shutdown or Close, and then returns
// http.ErrServerClosed; any other accept error is returned as is.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	if s.listeners == nil { // the first Serve
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*sconn]struct{}{}
		s.stop = make(chan struct{})
		s.clock.Store(time.Now().UnixNano())
		go s.sweep()
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger().Warn("h1: accept failed; retrying", "error", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			nc.Close()
			return http.ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

// sweep closes connections past their deadline (a request head that takes
// too long, a kept-alive connection idle too long) and keeps the coarse
// clock the deadlines are set from.
func (s *Server) sweep() {
	period := min(s.headerTimeout(), s.idleTimeout()) / 4
	period = min(max(period, 10*time.Millisecond), time.Second)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			ns := now.UnixNano()
			s.clock.Store(ns)
			s.mu.Lock()
			for c := range s.conns {
				if d := c.deadline.Load(); d != 0 && ns > d {
					c.nc.Close()
				}
			}
			s.mu.Unlock()
		}
	}
}

// Shutdown stops accepting, closes idle connections, lets the requests in
// flight finish (each connection closes after its response) and returns when
// no connection is left, or with ctx's error when ctx ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			if c.state.Load() == stateIdle {
				c.nc.Close()
			}
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.beginClose()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
	return nil
}

func (s *Server) beginClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Swap(true) {
		return
	}
	for ln := range s.listeners {
		ln.Close()
	}
	if s.stop != nil {
		close(s.stop)
	}
}

func (s *Server) forget(c *sconn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Connection states, for Shutdown.
const (
	stateActive = iota // reading or serving a request
	stateIdle          // waiting for the next request with nothing buffered
)

// sconn is one client connection, served by one goroutine that reads its
// requests and runs the handler. That goroutine reads the socket itself
// while no handler runs and while a handler has run for less than
// watchAfter, so a request answered quickly (a cache hit, a refusal, a fast
// upstream) involves no other goroutine and no hand-off. A handler that runs
// longer gets a watcher: a goroutine that reads the socket in the serving
// goroutine's place, so that a client's close cancels the request at once
// (DESIGN.md §5). While it runs, the serving goroutine, when it needs input,
// lends it a buffer (demand) and the watcher reads straight into it; when it
// needs none the watcher reads into queue. When the handler returns, a read
// deadline in the past stops the watcher, and what it queued becomes the
// serving goroutine's input.
type sconn struct {
	s      *Server
	nc     net.Conn
	remote string
	bw     *bufWriter

	state    atomic.Int32
	deadline atomic.Int64 // unix nanoseconds past which the sweeper closes nc; 0 none

	watchTimer *time.Timer // starts the watcher; armed while a handler runs

	mu        sync.Mutex
	handling  bool   // a handler runs
	direct    bool   // the serving goroutine is in a read of its own
	wantWatch bool   // the watch timer fired during that read
	watching  bool   // a watcher runs
	stopping  bool   // the serving goroutine asked the watcher to stop
	queue     []byte // read by the watcher while nothing was asked, not yet taken; its array is the watcher's buffer
	demand    []byte // where the serving goroutine asked the watcher to read
	got       int    // bytes read into demand
	gotSet    bool   // a read into demand has finished
	rerr      error  // the socket's read error; no read is made after it
	cancel    context.CancelFunc
	consumer  bool          // the serving goroutine waits in readInto
	producer  bool          // the watcher waits for queue to be taken
	wake      chan struct{} // watcher → serving goroutine
	kick      chan struct{} // serving goroutine → watcher
	watchEnd  chan struct{} // closed when the watcher has returned

	// Owned by the serving goroutine.
	buf    []byte // input; unread at buf[off:]
	off    int
	served bool // a request has been read
	linger bool // it stops with input unread
}

// queueSize bounds what the watcher reads while nothing is asked of it.
const queueSize = 4 << 10

// watchAfter is how long a handler runs before a watcher reads the socket
// for it. A client that goes away sooner is noticed this much later, or
// when its response is written; an LLM request lasts seconds.
const watchAfter = 2 * time.Millisecond

func newConn(s *Server, nc net.Conn) *sconn {
	return &sconn{
		s: s, nc: nc, remote: nc.RemoteAddr().String(),
		wake: make(chan struct{}, 1), kick: make(chan struct{}, 1),
	}
}

// watchFired runs when a handler has run for watchAfter: it becomes the
// connection's watcher, unless the handler has returned, or the serving
// goroutine is in a read of its own (then a watcher starts after that read).
func (c *sconn) watchFired() {
	c.mu.Lock()
	if !c.handling || c.watching || c.rerr != nil {
		c.mu.Unlock()
		return
	}
	if c.direct {
		c.wantWatch = true
		c.mu.Unlock()
		return
	}
	end := c.startWatch()
	c.mu.Unlock()
	c.watch(end)
}

// startWatch prepares the watcher's state; c.mu is held. The caller runs
// watch with the channel it returns.
func (c *sconn) startWatch() chan struct{} {
	c.watching = true
	if c.queue == nil {
		c.queue = getBuf()
	}
	c.watchEnd = make(chan struct{})
	return c.watchEnd
}

// watch is the watcher: it reads the socket until it is stopped or the read
// fails (the client closed, or the serving goroutine closed nc), into the
// buffer the serving goroutine lent it or else into queue, and cancels the
// request in flight when the client goes away.
func (c *sconn) watch(end chan struct{}) {
	defer close(end)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		// Queued input not yet taken: no more reading until it is (a
		// pipelining client waits, as its requests are answered in turn).
		for len(c.queue) > 0 && !c.stopping {
			c.producer = true
			c.mu.Unlock()
			<-c.kick
			c.mu.Lock()
		}
		if c.stopping {
			c.watching = false
			return
		}
		p, direct := c.demand, c.demand != nil
		if !direct {
			p = c.queue[:queueSize] // queue is empty: the serving goroutine does not touch it
		}
		c.mu.Unlock()

		n, err := c.nc.Read(p)

		c.mu.Lock()
		if direct {
			c.demand, c.got, c.gotSet = nil, n, true
		} else {
			c.queue = c.queue[:n]
		}
		if err != nil && !(c.stopping && errors.Is(err, os.ErrDeadlineExceeded)) {
			c.lost(err)
		}
		if c.consumer && (n > 0 || err != nil) {
			c.consumer = false
			c.wake <- struct{}{}
		}
		if err != nil {
			c.watching = false
			return
		}
	}
}

// lost records the socket's read error and cancels the request in flight;
// c.mu is held.
func (c *sconn) lost(err error) {
	c.rerr = err
	if c.cancel != nil {
		c.cancel()
	}
}

// readInto reads into p: what the watcher queued or read into p, or, with no
// watcher, straight from the socket. It returns the socket's read error once
// everything before it was taken.
func (c *sconn) readInto(p []byte) (int, error) {
	c.mu.Lock()
	for {
		// A read into p comes first: the watcher may have read into queue
		// after it, before this goroutine woke.
		if c.gotSet {
			n := c.got
			c.got, c.gotSet = 0, false
			if n > 0 {
				c.mu.Unlock()
				return n, nil
			}
		}
		if len(c.queue) > 0 {
			// The watcher was in a read into queue when p was asked for; it
			// has not taken p (it waits while queue holds input).
			c.demand = nil
			n := copy(p, c.queue)
			c.queue = c.queue[:copy(c.queue, c.queue[n:])]
			if len(c.queue) == 0 {
				c.kickWatcher()
			}
			c.mu.Unlock()
			return n, nil
		}
		if err := c.rerr; err != nil {
			c.mu.Unlock()
			return 0, err
		}
		if !c.watching {
			return c.readDirect(p)
		}
		if c.demand == nil {
			c.demand = p
			c.kickWatcher()
		}
		c.consumer = true
		c.mu.Unlock()
		<-c.wake
		c.mu.Lock()
	}
}

// readDirect reads the socket on the serving goroutine; c.mu is held on
// entry and released on return. A watch timer that fired meanwhile starts
// the watcher after the read.
func (c *sconn) readDirect(p []byte) (int, error) {
	c.direct = true
	c.mu.Unlock()
	n, err := c.nc.Read(p)
	c.mu.Lock()
	c.direct = false
	if err != nil {
		c.lost(err)
	}
	var end chan struct{}
	if c.wantWatch && c.rerr == nil { // wantWatch is only set while handling
		end = c.startWatch()
	}
	c.wantWatch = false
	c.mu.Unlock()
	if end != nil {
		go c.watch(end)
	}
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return 0, err
}

// kickWatcher wakes the watcher if it waits; c.mu is held.
func (c *sconn) kickWatcher() {
	if c.producer {
		c.producer = false
		c.kick <- struct{}{}
	}
}

// fill reads more input into buf. buf[off:] moves to the front of buf
// first: offsets into the unread input stay valid, pointers into buf do not.
func (c *sconn) fill() error {
	if c.off > 0 {
		n := copy(c.buf, c.buf[c.off:])
		c.buf = c.buf[:n]
		c.off = 0
	}
	if c.buf == nil {
		c.buf = getBuf()
	}
	if cap(c.buf)-len(c.buf) < 2<<10 {
		nb := make([]byte, len(c.buf), 2*cap(c.buf))
		copy(nb, c.buf)
		putBuf(c.buf)
		c.buf = nb
	}
	n, err := c.readInto(c.buf[len(c.buf):cap(c.buf)])
	c.buf = c.buf[:len(c.buf)+n]
	return err
}

// release returns the input buffer, when nothing is left in it, and the
// held-body buffer to their pools.
func (c *sconn) release() {
	if c.buf != nil && c.off == len(c.buf) {
		putBuf(c.buf)
		c.buf, c.off = nil, 0
	}
	if c.bw != nil {
		putBufWriter(c.bw)
		c.bw = nil
	}
}

// bufs pools the 4 KiB buffers connections read requests into and hold
// small response bodies in.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func getBuf() []byte { return (*bufs.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) == 4<<10 {
		b = b[:0]
		bufs.Put(&b)
	}
}

// unread is the input read but not consumed.
func (c *sconn) unread() []byte { return c.buf[c.off:] }

// arm attaches the request's cancel to the connection, to be called when
// the client goes away (if it already has, the request starts cancelled),
// and arms the watch timer.
func (c *sconn) arm(cancel context.CancelFunc) {
	c.mu.Lock()
	c.cancel = cancel
	c.handling = true
	gone := c.rerr != nil
	c.mu.Unlock()
	if gone {
		cancel()
	}
	if c.watchTimer == nil {
		c.watchTimer = time.AfterFunc(watchAfter, c.watchFired)
	} else {
		c.watchTimer.Reset(watchAfter)
	}
}

// disarm ends what arm began: it stops the watcher, if one started, and
// takes what it queued as input.
func (c *sconn) disarm() {
	if c.watchTimer != nil {
		c.watchTimer.Stop()
	}
	c.mu.Lock()
	c.cancel = nil
	c.handling, c.wantWatch = false, false
	if c.watching {
		c.stopping = true
		c.kickWatcher()
		end := c.watchEnd
		c.mu.Unlock()
		c.nc.SetReadDeadline(aLongTimeAgo)
		<-end
		c.nc.SetReadDeadline(time.Time{})
		c.mu.Lock()
		c.stopping = false
	}
	if c.queue != nil {
		if len(c.queue) > 0 {
			if c.buf == nil {
				c.buf = getBuf()
			}
			c.buf = append(c.buf, c.queue...)
		}
		putBuf(c.queue)
		c.queue = nil
	}
	c.demand, c.watchEnd = nil, nil
	c.mu.Unlock()
}

// serve runs requests one after another until the connection ends.
func (c *sconn) serve() {
	defer func() {
		// A bug in this file must cost one connection, not the process
		// (the handler's own panics are caught in handle).
		if v := recover(); v != nil {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.s.logger().Error("h1: panic serving a connection", "remote", c.remote, "panic", fmt.Sprint(v), "stack", string(buf))
		}
		if c.linger {
			// Input is left unread: closing now would make the kernel reset
			// the connection and drop the end of the response. Send FIN,
			// let the client read and close, then close (as net/http).
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				c.nc.SetReadDeadline(time.Now().Add(lingerTime))
				b := getBuf()[:4<<10]
				for {
					if _, err := c.nc.Read(b); err != nil {
						break
					}
				}
				putBuf(b[:0])
			}
		}
		c.nc.Close()
		c.release()
		c.s.forget(c)
	}()
	for {
		req, status, err := c.readRequest()
		if err != nil {
			if status != 0 {
				c.linger = true
				c.bw = getBufWriter(c.nc)
				c.reject(status, err)
			}
			return
		}
		c.served = true
		c.bw = getBufWriter(c.nc)
		keep := c.handle(req)
		putBufWriter(c.bw)
		c.bw = nil
		if !keep {
			return
		}
		if c.s.closing.Load() {
			return
		}
	}
}

// handle serves one request; it reports whether the connection may carry
// another.
func (c *sconn) handle(req *http.Request) (keep bool) {
	ctx, cancel := context.WithCancel(context.Background())
	req = req.WithContext(ctx)
	c.arm(cancel)
	body, _ := req.Body.(*reqBody)
	w := &response{c: c, req: req, header: make(http.Header, 8), keep: !req.Close, body: body,
		head: req.Method == http.MethodHead}
	if body != nil {
		body.w = w
	}
	defer func() {
		cancel()
		if v := recover(); v != nil {
			c.disarm()
			keep = false
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.logger().Error("h1: panic serving request", "remote", c.remote, "panic", fmt.Sprint(v), "stack", string(buf))
			}
		}
	}()
	c.s.Handler.ServeHTTP(w, req)
	c.disarm()
	if !w.finish() {
		return false
	}
	if body != nil && !body.done && (!w.keep || !body.discard()) {
		c.linger = true // input is left unread
		return false
	}
	return w.keep
}

// requestError is a malformed request, answered with status and closed.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// readRequest reads the next request head. A nil request with status 0 means
// the connection ended between requests; with a status, the request was
// malformed and is answered with it.
func (c *sconn) readRequest() (*http.Request, int, error) {
	end, err := c.readHead()
	if err == nil {
		var req *http.Request
		req, err = c.parseHead(c.buf[c.off:end])
		c.off = end
		if err == nil {
			return req, 0, nil
		}
	}
	var re *requestError // every refusal of readHead and parseHead is one
	if errors.As(err, &re) {
		return nil, re.status, err
	}
	return nil, 0, err
}

// readHead waits for a whole request head (up to its empty line) and
// returns the offset in buf just past it; buf[off:] then starts with the
// request line. Empty lines before a request are skipped (RFC 9112 §2.2).
// While it waits the connection has a deadline: the idle timeout before a
// request's first bytes (the header timeout on a new connection, as in
// net/http), the header timeout after them.
func (c *sconn) readHead() (int, error) {
	const (
		none = iota
		idle
		head
	)
	limit := c.s.maxHeaderBytes()
	scanned := 0 // bytes of buf[off:] known to hold no head end
	waiting := none
	for {
		in := c.unread()
		for len(in) > 0 && (in[0] == '\n' || in[0] == '\r' && len(in) > 1 && in[1] == '\n') {
			if in[0] == '\r' {
				c.off++
			}
			c.off++
			in = c.unread()
			scanned = 0
		}
		if i := headEnd(in, scanned); i >= 0 {
			if i > limit {
				return 0, &requestError{status: http.StatusRequestHeaderFieldsTooLarge, msg: "request head larger than the limit"}
			}
			if waiting != none {
				c.deadline.Store(0)
			}
			c.state.Store(stateActive)
			return c.off + i, nil
		}
		if len(in) > limit {
			return 0, &requestError{status: http.StatusRequestHeaderFieldsTooLarge, msg: "request head larger than the limit"}
		}
		scanned = max(len(in)-3, 0)
		switch {
		case len(in) == 0 && waiting != idle:
			if cap(c.buf) > 4<<10 {
				c.release() // an idle connection holds no more than 4 KiB
			}
			c.state.Store(stateIdle)
			if c.s.closing.Load() {
				return 0, http.ErrServerClosed
			}
			wait := c.s.idleTimeout()
			if !c.served {
				wait = c.s.headerTimeout()
			}
			c.deadline.Store(c.s.clock.Load() + int64(wait))
			waiting = idle
		case len(in) > 0 && waiting != head:
			c.state.Store(stateActive)
			c.deadline.Store(c.s.clock.Load() + int64(c.s.headerTimeout()))
			waiting = head
		}
		if err := c.fill(); err != nil {
			if len(c.unread()) > 0 {
				return 0, &requestError{status: http.StatusBadRequest, msg: "the connection ended inside the request head"}
			}
			return 0, err
		}
	}
}

// headEnd returns the length of the head in b (through its empty line), or
// -1; from says where to resume a search that found nothing in b[:from+3].
func headEnd(b []byte, from int) int {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
		if i >= len(b) {
			return -1
		}
	}
}

// nextLine splits b at its first LF, dropping a CR before it.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseHead builds the request from a complete head.
func (c *sconn) parseHead(head []byte) (*http.Request, error) {
	line, rest := nextLine(head)
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := -1
	if sp1 > 0 {
		if i := bytes.IndexByte(line[sp1+1:], ' '); i >= 0 {
			sp2 = sp1 + 1 + i
		}
	}
	if sp1 <= 0 || sp2 <= sp1+1 {
		return nil, badRequest("malformed request line %q: expected METHOD TARGET HTTP/1.1", truncate(line))
	}
	method, target, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !validTokenBytes(method) {
		return nil, badRequest("malformed method %q", truncate(method))
	}
	var minor int
	switch string(proto) {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
		minor = 0
	default:
		if bytes.HasPrefix(proto, []byte("HTTP/")) {
			return nil, &requestError{status: http.StatusHTTPVersionNotSupported,
				msg: fmt.Sprintf("unsupported protocol %q: this listener speaks HTTP/1.0 and HTTP/1.1", truncate(proto))}
		}
		return nil, badRequest("malformed protocol %q in the request line", truncate(proto))
	}
	req := &http.Request{
		Method:     internMethod(method),
		Proto:      protos[minor],
		ProtoMajor: 1,
		ProtoMinor: minor,
		RemoteAddr: c.remote,
	}
	if req.Method == http.MethodConnect {
		return nil, &requestError{status: http.StatusMethodNotAllowed, msg: "CONNECT is not supported"}
	}
	var err error
	req.RequestURI, req.URL, err = parseTarget(target)
	if err != nil {
		return nil, err
	}

	// Header lines.
	hb := getHeaderBuf()
	defer putHeaderBuf(hb)
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, badRequest("obsolete header line folding; send each header on one line")
		}
		name, value, ok := splitField(line)
		if !ok {
			return nil, badRequest("malformed header line %q", truncate(line))
		}
		if !validValueBytes(value) {
			return nil, badRequest("invalid character in the value of header %q", name)
		}
		hb.add(name, value)
	}
	h := hb.header()
	req.Header = h

	// Host (RFC 9112 §3.2).
	hosts := h["Host"]
	switch {
	case len(hosts) > 1:
		return nil, badRequest("more than one Host header")
	case len(hosts) == 0 && minor == 1:
		return nil, badRequest("missing required Host header")
	case len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]):
		return nil, badRequest("malformed Host header %q", hosts[0])
	}
	req.Host = req.URL.Host
	if req.Host == "" && len(hosts) == 1 {
		req.Host = hosts[0]
	}
	delete(h, "Host")

	// Connection.
	conn := h["Connection"]
	req.Close = hasToken(conn, "close") || minor == 0 && !hasToken(conn, "keep-alive")

	// Body framing (RFC 9112 §6.3).
	te, cl := h["Transfer-Encoding"], h["Content-Length"]
	body := &reqBody{c: c}
	switch {
	case len(te) > 0 && len(cl) > 0:
		return nil, badRequest("both Transfer-Encoding and Content-Length; send one")
	case len(te) > 0:
		if minor == 0 {
			return nil, badRequest("Transfer-Encoding in an HTTP/1.0 request")
		}
		if len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
			return nil, &requestError{status: http.StatusNotImplemented, msg: fmt.Sprintf("unsupported Transfer-Encoding %q: only chunked is", te)}
		}
		req.TransferEncoding = chunkedTE
		delete(h, "Transfer-Encoding") // as net/http: the framing is in TransferEncoding
		req.ContentLength = -1
		body.chunked = true
	case len(cl) > 0:
		n, err := parseLength(cl)
		if err != nil {
			return nil, badRequest("%s", err.Error())
		}
		req.ContentLength = n
		body.n = n
		if len(cl) > 1 {
			h["Content-Length"] = cl[:1] // equal repeats collapse, as in net/http
		}
	}
	// Expect, as net/http reads it: 100-continue matters for an HTTP/1.1
	// request with a body; anything else is refused.
	if e := h["Expect"]; len(e) > 0 {
		if !hasToken(e[:1], "100-continue") {
			return nil, &requestError{status: http.StatusExpectationFailed, msg: fmt.Sprintf("unsupported Expect %q: only 100-continue is", e)}
		}
		body.expect = minor == 1 && req.ContentLength != 0
	}
	if req.ContentLength == 0 {
		req.Body = http.NoBody
	} else {
		req.Body = body
	}
	return req, nil
}

var methods = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace} {
		m[s] = s
	}
	return m
}()

func internMethod(b []byte) string {
	if s, ok := methods[string(b)]; ok {
		return s
	}
	return string(b)
}

// parseTarget parses an origin-form, absolute-form or asterisk-form request
// target as net/http does, without url.ParseRequestURI for plain paths.
func parseTarget(b []byte) (string, *url.URL, error) {
	plain := len(b) > 0 && b[0] == '/'
	for _, ch := range b {
		if !plainPath[ch] {
			plain = false
			break
		}
	}
	s := string(b)
	if plain {
		return s, &url.URL{Path: s}, nil
	}
	u, err := url.ParseRequestURI(s)
	if err != nil {
		return "", nil, badRequest("malformed request target %q", truncate(b))
	}
	return s, u, nil
}

// plainPath marks the bytes a path can hold that url.ParseRequestURI takes
// as they are (no escapes, no query, no "//" authority question).
var plainPath = func() (t [256]bool) {
	for _, ch := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-._~" {
		t[ch] = true
	}
	return t
}()

func validValueBytes(b []byte) bool {
	for _, ch := range b {
		if ch < ' ' && ch != '\t' || ch == 0x7f {
			return false
		}
	}
	return true
}

// reject answers a malformed request in the gateway's error shape (DESIGN.md
// §4) and the connection closes.
func (c *sconn) reject(status int, err error) {
	code := "malformed_http_request"
	if status == http.StatusRequestHeaderFieldsTooLarge {
		code = "request_head_too_large"
	}
	msg, _ := jsontext.AppendQuote(nil, err.Error()) // the error only says invalid UTF-8 was replaced
	body := `{"error":{"message":` + string(msg) + `,"type":"invalid_request_error","param":null,"code":"` + code + `"}}` + "\n"
	b := c.bw.buf[:0]
	b = appendStatusLine(b, status)
	b = append(b, "Content-Type: application/json\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.bw.buf = b
	c.bw.flush()
}

func statusLine(code int) string {
	if s, ok := statusLines[code]; ok {
		return s
	}
	return strconv.Itoa(code) + " status code " + strconv.Itoa(code)
}
