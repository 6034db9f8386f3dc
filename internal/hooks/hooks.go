// Package hooks runs named pre-request and post-response webhooks: a hook
// service is POSTed a JSON Request describing the exchange and answers with
// a JSON Decision (allow, deny, or — for pre hooks — modify the request by
// inserting context messages and metadata). They serve retrieval-augmented
// context, external guardrails and custom policy.
//
// A hook that does not answer properly (timeout, connection error, non-2xx
// status, invalid JSON, unknown action) fails; Run then applies the hook's
// FailOpen policy: fail closed (refuse, the default) or fail open (allow and
// hand the error back for logging).
package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/net/http/httpguts"
)

// Stages.
const (
	StagePre  = "pre"
	StagePost = "post"
)

// Actions.
const (
	ActionAllow  = "allow"
	ActionDeny   = "deny"
	ActionModify = "modify"
)

// Positions for Decision.Position.
const (
	PositionStart = "start"
	PositionEnd   = "end"
)

// DefaultTimeout is the timeout of a hook whose Config.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// MaxAnswerBytes caps the body of a hook's answer; a longer answer is a
// failure (ErrBadAnswer).
const MaxAnswerBytes = 4 << 20

// Errors a failed Call wraps (alongside the hook name). Timeouts and
// cancellations wrap context.DeadlineExceeded / context.Canceled.
var (
	// ErrStatus: the hook answered with a non-2xx status.
	ErrStatus = errors.New("hook answered with a non-2xx status")
	// ErrBadAnswer: the answer is not a valid Decision (invalid JSON,
	// unknown action or position, malformed messages, too large).
	ErrBadAnswer = errors.New("invalid hook answer")
)

// Config configures one hook.
type Config struct {
	Name     string
	URL      string        // http(s)
	Stage    string        // "pre" or "post"
	Timeout  time.Duration // default 2s
	FailOpen bool          // on failure: true → let the request through (and log); false → refuse it (the default)
	// Headers are sent with every call (e.g. auth for the hook service);
	// they are never logged nor put in errors.
	Headers map[string]string
}

// Hook is a validated, ready-to-call hook. It is safe for concurrent use.
type Hook struct {
	name     string
	url      string
	stage    string
	timeout  time.Duration
	failOpen bool
	headers  http.Header
	client   *http.Client
}

// New validates cfg and returns its Hook. client is used for the calls
// (http.DefaultClient when nil); redirects are never followed (a 3xx is a
// non-2xx answer), so headers cannot leak to another host and the POST is
// never turned into a GET.
func New(cfg Config, client *http.Client) (*Hook, error) {
	if strings.TrimSpace(cfg.Name) == "" {
		return nil, errors.New("hooks: hook name is empty")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("hooks: hook %q: invalid url", cfg.Name)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("hooks: hook %q: url scheme must be http or https", cfg.Name)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("hooks: hook %q: url has no host", cfg.Name)
	}
	if cfg.Stage != StagePre && cfg.Stage != StagePost {
		return nil, fmt.Errorf("hooks: hook %q: stage must be %q or %q, not %q", cfg.Name, StagePre, StagePost, cfg.Stage)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("hooks: hook %q: negative timeout", cfg.Name)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	h := make(http.Header, len(cfg.Headers))
	for k, v := range cfg.Headers {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("hooks: hook %q: invalid header name %q", cfg.Name, k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			// The value is a secret: do not quote it.
			return nil, fmt.Errorf("hooks: hook %q: invalid value for header %q", cfg.Name, k)
		}
		h.Set(k, v)
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Hook{
		name:     cfg.Name,
		url:      u.String(),
		stage:    cfg.Stage,
		timeout:  timeout,
		failOpen: cfg.FailOpen,
		headers:  h,
		client:   &c,
	}, nil
}

// Name is the hook's name.
func (h *Hook) Name() string { return h.name }

// Stage is the hook's stage, StagePre or StagePost.
func (h *Hook) Stage() string { return h.stage }

// FailOpen reports whether a failure of the hook lets the request through.
func (h *Hook) FailOpen() bool { return h.failOpen }

// Timeout is the hook's effective timeout.
func (h *Hook) Timeout() time.Duration { return h.timeout }

// Request is what a hook is told (the JSON body POSTed to the hook).
type Request struct {
	Stage     string         `json:"stage"` // pre | post: Call always sends the hook's own stage
	RequestID string         `json:"request_id"`
	Key       string         `json:"key,omitempty"` // key NAME, never the secret
	Team      string         `json:"team,omitempty"`
	Model     string         `json:"model"`
	Endpoint  string         `json:"endpoint"`
	Body      jsontext.Value `json:"body"`               // the client's request body, passed through byte for byte (null when empty)
	Response  jsontext.Value `json:"response,omitempty"` // post only: the non-streamed answer body, byte for byte
}

// MarshalJSON encodes r with Body and Response copied verbatim (they are
// validated, not reformatted), which encoding them through json.Marshal
// would not guarantee.
func (r Request) MarshalJSON() ([]byte, error) {
	return r.appendJSON(nil)
}

func (r Request) appendJSON(b []byte) ([]byte, error) {
	var err error
	str := func(name, v string, omitEmpty bool) {
		if err != nil || (omitEmpty && v == "") {
			return
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b, _ = jsontext.AppendQuote(b, name)
		b = append(b, ':')
		b, err = jsontext.AppendQuote(b, v)
	}
	raw := func(name string, v jsontext.Value, omitEmpty bool) {
		if err != nil || (omitEmpty && len(v) == 0) {
			return
		}
		if len(v) == 0 {
			v = jsontext.Value("null")
		} else if !v.IsValid() {
			err = fmt.Errorf("request %s is not valid JSON", name)
			return
		}
		b = append(b, ',')
		b, _ = jsontext.AppendQuote(b, name)
		b = append(b, ':')
		b = append(b, v...)
	}
	b = append(b, '{')
	str("stage", r.Stage, false)
	str("request_id", r.RequestID, false)
	str("key", r.Key, true)
	str("team", r.Team, true)
	str("model", r.Model, false)
	str("endpoint", r.Endpoint, false)
	raw("body", r.Body, false)
	raw("response", r.Response, true)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// Decision is what a hook answers (JSON).
type Decision struct {
	Action   string           `json:"action"`             // "allow" (default when empty), "deny", "modify" (pre hooks only)
	Reason   string           `json:"reason,omitempty"`   // shown to the client on deny
	Messages []jsontext.Value `json:"messages,omitempty"` // pre + modify: messages (OpenAI shape {"role","content"}) to insert
	// Position of the inserted Messages: "start" (the default: after any
	// leading system/developer messages) or "end" (appended at the end).
	Position string `json:"position,omitempty"`
	// Metadata (pre + modify) is merged into the request's "metadata"
	// object (created if absent); it wins over the client's keys.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Call POSTs req to the hook and returns its decision, with Action
// normalised ("" → "allow"). It fails — timeout, connection error, non-2xx
// status (ErrStatus), invalid JSON or unknown action/position, or a
// malformed message, or "modify" from a post hook (ErrBadAnswer) — with an
// error that names the hook; it never includes the configured headers nor
// the answer body.
func (h *Hook) Call(ctx context.Context, req Request) (Decision, error) {
	d, err := h.call(ctx, req)
	if err != nil {
		return Decision{}, fmt.Errorf("hook %q: %w", h.name, err)
	}
	return d, nil
}

func (h *Hook) call(ctx context.Context, req Request) (Decision, error) {
	req.Stage = h.stage
	payload, err := req.appendJSON(make([]byte, 0, 256+len(req.Body)+len(req.Response)))
	if err != nil {
		return Decision{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(payload))
	if err != nil {
		return Decision{}, err
	}
	for k, v := range h.headers {
		hr.Header[k] = v
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	resp, err := h.client.Do(hr)
	if err != nil {
		// *url.Error names the method and URL (password redacted) and
		// wraps the context error on timeout or cancellation.
		return Decision{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
		return Decision{}, fmt.Errorf("%w: %d", ErrStatus, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return Decision{}, fmt.Errorf("reading answer: %w", err)
	}
	if len(body) > MaxAnswerBytes {
		return Decision{}, fmt.Errorf("%w: longer than %d bytes", ErrBadAnswer, MaxAnswerBytes)
	}
	var d Decision
	if err := json.Unmarshal(body, &d); err != nil {
		return Decision{}, fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	if err := h.check(&d); err != nil {
		return Decision{}, fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	return d, nil
}

// check validates and normalises d.
func (h *Hook) check(d *Decision) error {
	switch d.Action {
	case "":
		d.Action = ActionAllow
	case ActionAllow, ActionDeny:
	case ActionModify:
		if h.stage != StagePre {
			return errors.New(`action "modify" is only valid for pre hooks`)
		}
	default:
		return fmt.Errorf("unknown action %q", d.Action)
	}
	switch d.Position {
	case "", PositionStart, PositionEnd:
	default:
		return fmt.Errorf("unknown position %q", d.Position)
	}
	if d.Action == ActionModify {
		for i, m := range d.Messages {
			if _, err := messageRole(m); err != nil {
				return fmt.Errorf("messages[%d]: %v", i, err)
			}
		}
	}
	return nil
}

// Refusal is why a request must be refused by a hook.
type Refusal struct {
	Hook   string
	Reason string // the hook's reason on a deny (may be empty)
	// Failed: the hook did not answer properly (the client gets a 503-style
	// "guardrail unavailable"); otherwise the hook denied (403-style, with
	// Reason).
	Failed bool
	// Err is the failure when Failed (for logs; never for the client).
	Err error
}

// Error describes the refusal for logs.
func (r *Refusal) Error() string {
	if r.Failed {
		if r.Err != nil {
			return fmt.Sprintf("guardrail unavailable: %v", r.Err)
		}
		return fmt.Sprintf("guardrail unavailable: hook %q failed", r.Hook)
	}
	if r.Reason == "" {
		return fmt.Sprintf("request denied by hook %q", r.Hook)
	}
	return fmt.Sprintf("request denied by hook %q: %s", r.Hook, r.Reason)
}

// Unwrap is Err.
func (r *Refusal) Unwrap() error { return r.Err }

// StatusCode is the HTTP status for the client: 503 when Failed, else 403.
func (r *Refusal) StatusCode() int {
	if r.Failed {
		return http.StatusServiceUnavailable
	}
	return http.StatusForbidden
}

// Message is the text for the client: "guardrail unavailable" when Failed,
// else the hook's Reason (or "request denied by policy" when it gave none).
// It never names the hook nor the failure.
func (r *Refusal) Message() string {
	switch {
	case r.Failed:
		return "guardrail unavailable"
	case r.Reason != "":
		return r.Reason
	default:
		return "request denied by policy"
	}
}

// Run is Call plus the fail-open/closed policy. It returns:
//   - the decision to apply (allow or modify), nil, nil;
//   - on a deny: Decision{}, a *Refusal (not Failed, Reason kept), nil;
//   - on a failure with FailOpen false: Decision{}, a Failed *Refusal, and
//     the error (also in Refusal.Err) for logging;
//   - on a failure with FailOpen true: Decision{Action:"allow"}, nil, and
//     the error for logging.
//
// When ctx itself is done (the client went away) the failure is refused
// whatever FailOpen says: there is no request left to let through.
func (h *Hook) Run(ctx context.Context, req Request) (Decision, *Refusal, error) {
	d, err := h.Call(ctx, req)
	if err != nil {
		if h.failOpen && ctx.Err() == nil {
			return Decision{Action: ActionAllow}, nil, err
		}
		return Decision{}, &Refusal{Hook: h.name, Failed: true, Err: err}, err
	}
	if d.Action == ActionDeny {
		return Decision{}, &Refusal{Hook: h.name, Reason: d.Reason}, nil
	}
	return d, nil, nil
}
