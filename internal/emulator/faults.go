package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Values of the body= fault item.
const (
	bodyHTML      = "html"
	bodyTruncated = "truncated"
	bodyInvalid   = "invalid"
)

// count is an optional non-negative number (cut_after=0 is meaningful).
type count struct {
	n  int
	ok bool
}

// Faults is a parsed fault spec (see [Describe] and [ParseFaults]). The zero
// value injects nothing.
type Faults struct {
	latency, firstByte, chunkDelay time.Duration

	status      int
	code        string
	headers     [][2]string
	body        string
	contentType string
	cutAfter    count
	errorAfter  count
	reset       bool

	times, after int
}

// IsZero reports whether f changes nothing about an answer (times= and
// after= alone change nothing).
func (f Faults) IsZero() bool {
	return f.latency == 0 && f.firstByte == 0 && f.chunkDelay == 0 &&
		f.status == 0 && f.code == "" && len(f.headers) == 0 && f.body == "" &&
		f.contentType == "" && !f.cutAfter.ok && !f.errorAfter.ok && !f.reset
}

// String is the canonical spec of f: items in a fixed order, ';'-separated.
func (f Faults) String() string {
	var items []string
	add := func(format string, args ...any) { items = append(items, fmt.Sprintf(format, args...)) }
	if f.latency > 0 {
		add("latency=%s", f.latency)
	}
	if f.firstByte > 0 {
		add("first_byte=%s", f.firstByte)
	}
	if f.chunkDelay > 0 {
		add("chunk_delay=%s", f.chunkDelay)
	}
	if f.status != 0 {
		add("status=%d", f.status)
	}
	if f.code != "" {
		add("code=%s", f.code)
	}
	for _, h := range f.headers {
		add("header=%s:%s", h[0], h[1])
	}
	if f.body != "" {
		add("body=%s", f.body)
	}
	if f.contentType != "" {
		add("content_type=%s", f.contentType)
	}
	if f.cutAfter.ok {
		add("cut_after=%d", f.cutAfter.n)
	}
	if f.errorAfter.ok {
		add("error_after=%d", f.errorAfter.n)
	}
	if f.reset {
		add("reset")
	}
	if f.times > 0 {
		add("times=%d", f.times)
	}
	if f.after > 0 {
		add("after=%d", f.after)
	}
	return strings.Join(items, ";")
}

// Describe returns the help text of the fault spec syntax, for
// `switchboard mock-upstream --help`.
func Describe() string {
	return `Fault spec: items separated by ';' or ',' (e.g. "status=429;header=retry-after:1;times=1").
The x-mock-fault request header overrides the default spec (--faults) for one request
(an empty header means no faults); x-mock-reply: TEXT chooses the assistant's answer.
  latency=DUR        wait DUR before answering at all (DUR: 250ms, 1.5s; a bare number is ms)
  first_byte=DUR     send status and headers at once, wait DUR before the first body byte
  chunk_delay=DUR    wait DUR between stream events
  status=N           answer HTTP N with the provider's error body for it (429 adds retry-after;
                     Anthropic: 529 is overloaded_error)
  code=C             error variant: insufficient_quota (OpenAI 429), content_filter (Azure 400),
                     or the error type on Anthropic (e.g. billing_error)
  header=NAME:VALUE  add a response header (repeatable; the first one for NAME replaces)
  body=html          an HTML error page (text/html), status from status= or 200
  body=truncated     a valid body cut in half, then a clean end (no Content-Length)
  body=invalid       garbage that is not JSON, as application/json
  content_type=T     override the Content-Type of the answer
  cut_after=N        stream: abort the connection after N events (no [DONE] or message_stop);
                     non-stream: abort after half the body
  error_after=N      stream: after N events send an error event (Anthropic: event: error,
                     overloaded_error) and end without [DONE] or message_stop
  reset              close the connection with a TCP RST before answering
  times=N            apply the other items to the first N requests carrying this spec only
  after=N            skip the first N requests carrying this spec, then apply
Values cannot contain ';' or ','.`
}

// ParseFaults parses a fault spec (see [Describe]). The empty spec is valid
// and injects nothing. The error names the offending item.
func ParseFaults(spec string) (Faults, error) {
	var f Faults
	items := strings.FieldsFunc(spec, func(r rune) bool { return r == ';' || r == ',' })
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if err := f.parseItem(item); err != nil {
			return Faults{}, fmt.Errorf("emulator: fault item %q: %w", item, err)
		}
	}
	return f, nil
}

func (f *Faults) parseItem(item string) error {
	name, value, hasValue := strings.Cut(item, "=")
	name = strings.ToLower(strings.TrimSpace(name))
	value = strings.TrimSpace(value)
	if name == "reset" {
		if hasValue {
			b, err := strconv.ParseBool(value)
			if err != nil {
				return errors.New("want reset, reset=true or reset=false")
			}
			f.reset = b
			return nil
		}
		f.reset = true
		return nil
	}
	if !hasValue || value == "" {
		if !knownItem(name) {
			return errors.New("unknown fault item")
		}
		return errors.New("missing value")
	}
	var err error
	switch name {
	case "latency":
		f.latency, err = parseDelay(value)
	case "first_byte":
		f.firstByte, err = parseDelay(value)
	case "chunk_delay":
		f.chunkDelay, err = parseDelay(value)
	case "status":
		f.status, err = strconv.Atoi(value)
		if err == nil && (f.status < 200 || f.status > 599) {
			err = errors.New("status must be between 200 and 599")
		}
	case "code":
		f.code = value
	case "header":
		k, v, ok := strings.Cut(value, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok || k == "":
			err = errors.New("want header=Name:Value")
		case strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(v, "\r\n"):
			err = errors.New("invalid header name or value")
		default:
			f.headers = append(f.headers, [2]string{k, v})
		}
	case "body":
		switch value {
		case bodyHTML, bodyTruncated, bodyInvalid:
			f.body = value
		default:
			err = errors.New("body must be html, truncated or invalid")
		}
	case "content_type":
		f.contentType = value
	case "cut_after":
		f.cutAfter, err = parseCount(value)
	case "error_after":
		f.errorAfter, err = parseCount(value)
	case "times":
		var c count
		c, err = parseCount(value)
		if err == nil && c.n == 0 {
			err = errors.New("times must be at least 1")
		}
		f.times = c.n
	case "after":
		var c count
		c, err = parseCount(value)
		f.after = c.n
	default:
		return errors.New("unknown fault item")
	}
	return err
}

func knownItem(name string) bool {
	switch name {
	case "latency", "first_byte", "chunk_delay", "status", "code", "header", "body",
		"content_type", "cut_after", "error_after", "reset", "times", "after":
		return true
	}
	return false
}

// parseDelay reads a Go duration ("250ms", "1.5s") or a bare number of
// milliseconds.
func parseDelay(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return 0, errors.New("negative duration")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration like 250ms or 1.5s")
	}
	if d < 0 {
		return 0, errors.New("negative duration")
	}
	return d, nil
}

func parseCount(s string) (count, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return count{}, errors.New("want a non-negative integer")
	}
	return count{n: n, ok: true}, nil
}

// errReset ends a request whose connection was hijacked and reset.
var errReset = errors.New("emulator: connection reset")

// streamErrorEvent is what error_after= sends in place of the next event: the
// error event OpenAI (and Azure) emit when a stream fails after HTTP 200.
var streamErrorEvent = []byte(`data: {"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}` + "\n\n")

// streamErrorer is a dialect whose mid-stream error event is not OpenAI's.
type streamErrorer interface {
	streamError() []byte
}

// errorEvent is the error event error_after= sends in the exchange's dialect.
func (x *exchange) errorEvent() []byte {
	if d, ok := x.dialect.(streamErrorer); ok {
		return d.streamError()
	}
	return streamErrorEvent
}

// sleep waits d, or until the client goes away (then it marks the exchange
// canceled and reports false).
func (x *exchange) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.ctx.Done():
		x.canceled = true
		return false
	}
}

// write sends b; an error means the client is gone.
func (x *exchange) write(b []byte) bool {
	if _, err := x.w.Write(b); err != nil {
		x.canceled = true
		return false
	}
	return true
}

// flush pushes what was written to the client.
func (x *exchange) flush() bool {
	if err := x.rc.Flush(); err != nil {
		x.canceled = true
		return false
	}
	return true
}

// abort flushes what was written and breaks the connection (net/http closes
// it without finishing the chunked body), as a provider crashing mid-answer.
func (x *exchange) abort() {
	_ = x.rc.Flush() // the connection is being broken anyway
	panic(http.ErrAbortHandler)
}

// reset closes the connection with a TCP RST before anything is written.
// Where the connection cannot be hijacked (HTTP/2, in-process transports) it
// aborts the handler instead.
func (x *exchange) reset() error {
	conn, _, err := x.rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if l, ok := conn.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0) // close sends RST instead of FIN
	}
	_ = conn.Close()
	return errReset
}

// htmlReply is the error page a proxy in front of the provider answers.
func htmlReply(f Faults) *reply {
	status, title := http.StatusOK, "502 Bad Gateway"
	if f.status != 0 {
		status = f.status
		title = strconv.Itoa(status) + " " + http.StatusText(status)
	}
	h := http.Header{}
	h.Set("Content-Type", "text/html")
	body := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
		"</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
	return &reply{status: status, header: h, body: []byte(body)}
}

// invalidReply is a body that claims to be JSON and is not.
func invalidReply(f Faults) *reply {
	status := http.StatusOK
	if f.status != 0 {
		status = f.status
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &reply{status: status, header: h, body: []byte(`{"id": not json, "object": "chat.completion", "choices": [`)}
}

// deliver writes rep, applying the delivery faults: content_type=, header=,
// first_byte=, chunk_delay=, cut_after=, error_after= and body=truncated.
// It is the only place answers are written.
func (x *exchange) deliver(rep *reply) {
	f := x.faults
	h := x.w.Header()
	for k, vs := range rep.header {
		h[k] = vs
	}
	if f.contentType != "" {
		h.Set("Content-Type", f.contentType)
	}
	seen := map[string]bool{}
	for _, kv := range f.headers {
		k := http.CanonicalHeaderKey(kv[0])
		if seen[k] {
			h.Add(k, kv[1])
		} else {
			h.Set(k, kv[1])
			seen[k] = true
		}
	}
	x.w.WriteHeader(rep.status)
	if f.firstByte > 0 {
		if !x.flush() || !x.sleep(f.firstByte) {
			return
		}
	}
	if rep.stream {
		x.deliverStream(rep.events)
		return
	}
	switch {
	case f.cutAfter.ok:
		x.write(rep.body[:len(rep.body)/2])
		x.abort()
	case f.body == bodyTruncated:
		// Flushing commits the headers without a Content-Length, so the
		// client sees a chunked body that ends cleanly in mid-document.
		if x.write(rep.body[:len(rep.body)/2]) {
			x.flush()
		}
	default:
		x.write(rep.body)
	}
}

// deliverStream writes SSE events, flushing after each and checking the
// client between them. events ends with the terminator (data: [DONE];
// Anthropic's message_stop), which cut_after= and error_after= never let
// through.
func (x *exchange) deliverStream(events [][]byte) {
	f := x.faults
	if f.body == bodyTruncated {
		all := bytes.Join(events, nil)
		if x.write(all[:len(all)/2]) {
			x.flush()
		}
		return
	}
	last := len(events) - 1
	for i, ev := range events {
		if i > 0 && !x.sleep(f.chunkDelay) {
			return
		}
		if x.ctx.Err() != nil {
			x.canceled = true
			return
		}
		if f.cutAfter.ok && i == min(f.cutAfter.n, last) {
			x.abort()
		}
		if f.errorAfter.ok && i == min(f.errorAfter.n, last) {
			if x.write(x.errorEvent()) {
				x.flush()
			}
			return
		}
		if !x.write(ev) || !x.flush() {
			return
		}
	}
}
