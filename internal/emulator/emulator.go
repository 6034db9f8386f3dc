// Package emulator is an in-process LLM provider: it speaks the OpenAI,
// Azure OpenAI, Anthropic Messages, Gemini (and Vertex AI) and Bedrock
// Converse wire formats byte-faithfully to the
// captured transcripts under fixtures/ and injects faults on demand
// (latency, error statuses, broken bodies, cut streams, connection resets).
// It backs `switchboard mock-upstream`, the benchmarks and every gateway
// test.
//
// The emulator is an [http.Handler]; mount it on an httptest.Server or any
// listener. Routes:
//
//	POST /v1/chat/completions                                  OpenAI chat, streaming and not
//	POST /v1/embeddings                                        OpenAI embeddings (float or base64)
//	GET  /v1/models                                            OpenAI model list
//	POST /openai/deployments/{deployment}/chat/completions     Azure chat (api-version required)
//	POST /openai/deployments/{deployment}/embeddings           Azure embeddings (api-version required)
//	POST /v1/messages                                          Anthropic Messages, streaming and not
//	POST /v1/messages/count_tokens                             Anthropic token count
//	POST /v1beta/models/{model}:generateContent                Gemini (streamGenerateContent: ?alt=sse or a JSON array)
//	GET  /v1beta/models                                        Gemini model list
//	POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent   Vertex AI
//	POST /model/{modelId}/converse                             Bedrock Converse (converse-stream: binary eventstream)
//
// Anthropic routes require the anthropic-version header, as the API does.
//
// Answers are generated, not replayed: ids, timestamps and token counts vary,
// but field order, indentation, trailing newlines and stream framing are the
// providers' own (see fixtures/README.md, "Wire-format gotchas"). A request
// may choose the assistant's text with the header x-mock-reply and its faults
// with x-mock-fault (see [Describe]).
package emulator

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// fixtureFS holds the captured provider bytes the emulator serves verbatim
// (error bodies, the model list, rate-limit headers). Only the dialects the
// emulator speaks are embedded, to keep the binary small.
//
//go:embed fixtures/openai fixtures/azure fixtures/anthropic fixtures/bedrock fixtures/gemini
var fixtureFS embed.FS

// fixture returns the bytes of fixtures/<name>; a missing file is a build
// mistake, so it panics.
func fixture(name string) []byte {
	b, err := fixtureFS.ReadFile("fixtures/" + name)
	if err != nil {
		panic(fmt.Sprintf("emulator: fixture %s: %v", name, err))
	}
	return b
}

// DefaultReply is the assistant text answered when neither [Options.Reply]
// nor the x-mock-reply request header chooses one. It is the text of the
// recorded OpenAI transcripts, so default answers match them piece for piece.
const DefaultReply = "The capital of Mexico is Mexico City."

// maxBody bounds how much of a request body the emulator reads (64 MiB).
const maxBody = 64 << 20

// Request headers the emulator understands.
const (
	headerFault = "X-Mock-Fault" // fault spec for this request, overriding Options.Faults
	headerReply = "X-Mock-Reply" // assistant text for this request, overriding Options.Reply
)

// Options configures an [Emulator]. The zero value is a usable emulator with
// no faults and no authentication.
type Options struct {
	// Faults is the fault spec applied to requests that carry no x-mock-fault
	// header; "" means none. See [Describe] for the syntax.
	Faults string

	// APIKey, when non-empty, must be presented as "Authorization: Bearer
	// <APIKey>" on OpenAI routes, as "api-key: <APIKey>" on Azure routes and
	// as "x-api-key: <APIKey>" on Anthropic routes; otherwise the answer is a
	// 401 in the dialect's shape. Empty accepts any or no credentials.
	APIKey string

	// Reply is the assistant text of chat answers; "" means [DefaultReply].
	// The x-mock-reply request header overrides it per request.
	Reply string

	// Models are the ids listed by GET /v1/models. When nil the captured
	// list (fixtures/openai/models-list.response.json) is served verbatim.
	Models []string

	// OnDone, when non-nil, is called once per request after the response is
	// finished (written, aborted or abandoned by the client), from the
	// handler goroutine, with the same record [Emulator.Requests] returns.
	OnDone func(Recorded)

	// NoRecord turns off request recording ([Emulator.Requests] stays
	// empty), for long-running use: the gateway's simulator and
	// `switchboard mock-upstream`. Recording otherwise keeps at most the
	// latest maxRecorded requests.
	NoRecord bool
}

// maxRecorded bounds the recorded requests; past it the oldest half is
// dropped, so a long test or demo cannot grow the emulator without limit.
const maxRecorded = 10000

// Recorded is what the emulator remembers of one request.
type Recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
	// Canceled reports that the request context was done before the
	// response was complete: the client went away during a delay or a stream.
	Canceled bool
	// Fault is the fault spec applied to this request, "" if none (no spec,
	// or a times=/after= window that did not cover this request).
	Fault string
}

func (r Recorded) clone() Recorded {
	r.Header = r.Header.Clone()
	r.Body = append([]byte(nil), r.Body...)
	return r
}

// Emulator is an [http.Handler] that emulates LLM providers. It is safe for
// concurrent use.
type Emulator struct {
	opts Options

	mu       sync.Mutex
	faults   string // default spec, validated
	reqs     []*Recorded
	counters map[string]int // requests seen per fault spec string, for times=/after=
}

// New returns an emulator configured by opts, or an error when opts.Faults
// does not parse.
func New(opts Options) (*Emulator, error) {
	if _, err := ParseFaults(opts.Faults); err != nil {
		return nil, err
	}
	if opts.Reply == "" {
		opts.Reply = DefaultReply
	}
	opts.Models = slices.Clone(opts.Models) // keeps nil apart from empty
	return &Emulator{opts: opts, faults: opts.Faults, counters: map[string]int{}}, nil
}

// SetFaults replaces the default fault spec (see [Options.Faults]) for
// requests that arrive from now on. It is safe to call while requests are
// being served; an invalid spec is rejected and the old one kept.
func (e *Emulator) SetFaults(spec string) error {
	if _, err := ParseFaults(spec); err != nil {
		return err
	}
	e.mu.Lock()
	e.faults = spec
	e.mu.Unlock()
	return nil
}

// Requests returns copies of the recorded requests in arrival order. A
// request still being served is included with its outcome so far.
func (e *Emulator) Requests() []Recorded {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Recorded, len(e.reqs))
	for i, r := range e.reqs {
		out[i] = r.clone()
	}
	return out
}

// Reset forgets the recorded requests and the times=/after= counters.
func (e *Emulator) Reset() {
	e.mu.Lock()
	e.reqs = nil
	e.counters = map[string]int{}
	e.mu.Unlock()
}

// ServeHTTP answers one request in the dialect its path selects.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody))
	rec := &Recorded{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
	}
	if !e.opts.NoRecord {
		e.mu.Lock()
		if len(e.reqs) >= maxRecorded {
			e.reqs = append(e.reqs[:0], e.reqs[maxRecorded/2:]...)
		}
		e.reqs = append(e.reqs, rec)
		e.mu.Unlock()
	}

	x := &exchange{
		e:       e,
		w:       w,
		r:       r,
		rc:      http.NewResponseController(w),
		ctx:     r.Context(),
		body:    body,
		dialect: dialectFor(r.URL.Path),
	}
	// Runs on normal return and while a deliberate abort panic unwinds.
	defer e.finish(rec, x)

	if readErr != nil && x.ctx.Err() != nil {
		// The client went away while sending the body. Other read errors
		// leave a partial body, which the handlers reject as invalid JSON.
		x.canceled = true
		return
	}
	x.serve()
}

// finish stores the outcome of a request and reports it to OnDone.
func (e *Emulator) finish(rec *Recorded, x *exchange) {
	e.mu.Lock()
	rec.Canceled = x.canceled
	rec.Fault = x.faultSpec
	done := rec.clone()
	e.mu.Unlock()
	if e.opts.OnDone != nil {
		e.opts.OnDone(done)
	}
}

// activeFaults picks the spec for a request (its x-mock-fault header, else
// the default), parses it and applies its times=/after= window. It returns
// the spec string actually applied ("" when none) and its parsed form.
func (e *Emulator) activeFaults(r *http.Request) (string, Faults, error) {
	spec, fromHeader := r.Header.Get(headerFault), true
	if _, ok := r.Header[headerFault]; !ok {
		fromHeader = false
		e.mu.Lock()
		spec = e.faults
		e.mu.Unlock()
	}
	spec = strings.TrimSpace(spec)
	f, err := ParseFaults(spec)
	if err != nil {
		if !fromHeader {
			// Validated by New/SetFaults; cannot happen.
			return "", Faults{}, nil
		}
		return "", Faults{}, err
	}
	if f.IsZero() {
		return "", Faults{}, nil
	}
	if f.times > 0 || f.after > 0 {
		e.mu.Lock()
		n := e.counters[spec]
		e.counters[spec] = n + 1
		e.mu.Unlock()
		if n < f.after || (f.times > 0 && n >= f.after+f.times) {
			return "", Faults{}, nil
		}
	}
	return spec, f, nil
}

// errCanceled ends a request whose client went away; nothing more is written.
var errCanceled = errors.New("emulator: client went away")

// handler produces the answer to one routed request. It returns an
// *httpError for answers in the dialect's error shape.
type handler func(x *exchange) (*reply, error)

// dialect is one provider's wire format: its routes, its credentials and the
// shape of its errors.
type dialect interface {
	// route finds the handler for the request's method and path, or returns
	// the dialect's 404/405 error.
	route(r *http.Request) (handler, error)
	// authorize checks the request's credentials against key (non-empty).
	authorize(r *http.Request, key string) error
	// badRequest is a 400 invalid_request_error with message, param and
	// code ("" for null).
	badRequest(message, param, code string) *httpError
	// faultError is the answer to a status= fault for the given model.
	faultError(f Faults, model string) *httpError
	// headers are the response headers every answer carries (request ids).
	headers() http.Header
}

// dialectFor chooses the wire format from the request path; paths of no
// known dialect get OpenAI's 404.
func dialectFor(path string) dialect {
	switch {
	case strings.HasPrefix(path, "/openai/"):
		return azure{}
	case isAnthropicPath(path):
		return anthropic{}
	case isBedrockPath(path):
		return bedrock{}
	case isGeminiPath(path):
		return gemini{}
	}
	return openAI{}
}

// exchange is the state of one request while it is being answered.
type exchange struct {
	e       *Emulator
	w       http.ResponseWriter
	r       *http.Request
	rc      *http.ResponseController
	ctx     context.Context
	body    []byte
	dialect dialect

	faultSpec string // applied spec, "" if none
	faults    Faults
	canceled  bool
}

// reply is one complete answer: status, headers and either a body or, for a
// stream, its SSE events.
type reply struct {
	status int
	header http.Header
	body   []byte
	// stream marks an SSE answer; events are complete SSE events ending in
	// "\n\n", and the last one is the terminator (data: [DONE]; Anthropic's
	// message_stop).
	stream bool
	events [][]byte
}

// httpError is an answer in a dialect's error shape. Handlers return it and
// serve writes it like any other reply.
type httpError struct{ reply }

func (e *httpError) Error() string {
	return fmt.Sprintf("emulator: status %d: %s", e.status, e.body)
}

// jsonError builds an httpError with a JSON body.
func jsonError(status int, body []byte) *httpError {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &httpError{reply{status: status, header: h, body: body}}
}

// serve runs the request through faults, routing, authentication and its
// handler, then writes the outcome with deliver — the one place answers are
// written.
func (x *exchange) serve() {
	rep, err := x.answer()
	switch {
	case errors.Is(err, errCanceled):
		x.canceled = true
		return
	case errors.Is(err, errReset):
		return // the connection is gone; nothing to write
	}
	if he, ok := errors.AsType[*httpError](err); ok {
		rep = &he.reply
	} else if err != nil {
		rep = &x.dialect.faultError(Faults{status: http.StatusInternalServerError}, "").reply
	}
	for k, vs := range x.dialect.headers() {
		if rep.header.Get(k) == "" {
			rep.header[k] = vs
		}
	}
	x.deliver(rep)
}

// answer decides what to send. Order: fault spec, latency, reset, route,
// credentials, status/body faults, then the handler.
func (x *exchange) answer() (*reply, error) {
	spec, f, err := x.e.activeFaults(x.r)
	if err != nil {
		return nil, x.dialect.badRequest(fmt.Sprintf("Invalid x-mock-fault header: %v.", err), "x-mock-fault", "")
	}
	x.faultSpec, x.faults = spec, f

	if !x.sleep(f.latency) {
		return nil, errCanceled
	}
	if f.reset {
		return nil, x.reset()
	}
	h, err := x.dialect.route(x.r)
	if err != nil {
		return nil, err
	}
	if key := x.e.opts.APIKey; key != "" {
		if err := x.dialect.authorize(x.r, key); err != nil {
			return nil, err
		}
	}
	switch f.body {
	case bodyHTML:
		return htmlReply(f), nil
	case bodyInvalid:
		return invalidReply(f), nil
	}
	if f.status != 0 {
		return nil, x.dialect.faultError(f, x.requestModel())
	}
	return h(x)
}

// requestModel is the request's model (Azure: the deployment), "" when the
// body does not say; used to fill error messages.
func (x *exchange) requestModel() string {
	if _, ok := x.dialect.(azure); ok {
		d, _ := azureDeployment(x.r.URL.Path)
		return d
	}
	var v struct {
		Model string `json:"model"`
	}
	_ = decodeJSON(x.body, &v)
	return v.Model
}

// replyText is the assistant text for this request.
func (x *exchange) replyText() string {
	if v := x.r.Header.Get(headerReply); v != "" {
		return v
	}
	return x.e.opts.Reply
}
