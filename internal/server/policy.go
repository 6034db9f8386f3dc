package server

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/hooks"
	"github.com/switchboard-gw/switchboard/internal/policy"
	"github.com/switchboard-gw/switchboard/internal/policy/pii"
)

// compiledPolicy is a config policy ready to apply.
type compiledPolicy struct {
	name    string
	pii     *pii.Redactor // nil: no rules
	respPII bool          // redact answers too
	tools   policy.Domains
	images  policy.Domains
	pre     []*hooks.Hook
	post    []*hooks.Hook
}

func (p *compiledPolicy) empty() bool {
	return p.pii == nil && len(p.tools) == 0 && len(p.images) == 0 && len(p.pre) == 0 && len(p.post) == 0
}

// compilePolicies builds the default policy and the named ones.
func compilePolicies(cfg *config.Config) (*compiledPolicy, map[string]*compiledPolicy, error) {
	client := &http.Client{}
	byName := make(map[string]*hooks.Hook, len(cfg.Hooks))
	for _, h := range cfg.Hooks {
		hk, err := hooks.New(hooks.Config{Name: h.Name, URL: h.URL, Stage: h.Stage, Timeout: h.Timeout.D(),
			FailOpen: h.FailOpen, Headers: h.Headers}, client)
		if err != nil {
			return nil, nil, fmt.Errorf("hooks: %w", err)
		}
		byName[h.Name] = hk
	}
	compile := func(c config.Policy) (*compiledPolicy, error) {
		p := &compiledPolicy{name: c.Name, respPII: c.PII.Responses, tools: c.ToolDomains, images: c.ImageDomains}
		rules := make([]pii.Rule, len(c.PII.Rules))
		for i, r := range c.PII.Rules {
			rules[i] = pii.Rule{Name: r.Name, Pattern: r.Pattern, Action: pii.Action(r.Action)}
		}
		var err error
		if p.pii, err = pii.New(rules); err != nil {
			return nil, fmt.Errorf("policy %q: %w", c.Name, err)
		}
		for _, name := range c.Hooks {
			if h := byName[name]; h.Stage() == "pre" {
				p.pre = append(p.pre, h)
			} else {
				p.post = append(p.post, h)
			}
		}
		return p, nil
	}
	def, err := compile(cfg.Policy)
	if err != nil {
		return nil, nil, err
	}
	named := make(map[string]*compiledPolicy, len(cfg.Policies))
	for _, c := range cfg.Policies {
		if named[c.Name], err = compile(c); err != nil {
			return nil, nil, err
		}
	}
	return def, named, nil
}

// policyFor is the policy of a caller: its key's, else its team's, else
// the default.
func (rt *runtime) policyFor(p *principal) *compiledPolicy {
	if p != nil {
		if pol := rt.policies[p.policy]; p.policy != "" && pol != nil {
			return pol
		}
		if p.team != nil && p.team.policy != "" {
			if pol := rt.policies[p.team.policy]; pol != nil {
				return pol
			}
		}
	}
	return rt.policy
}

// checkRequest is the policy hop's first half, on the raw body: the URL
// allowlists and the PII rules. It returns the body to use (redacted when
// a rule said so).
func (s *Server) checkRequest(x *exchange, pol *compiledPolicy, body []byte) ([]byte, error) {
	if pol.empty() {
		return body, nil
	}
	x.policy = pol
	if err := policy.CheckURLs(body, pol.tools, pol.images); err != nil {
		var ue *policy.URLError
		if errors.As(err, &ue) {
			return nil, &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "url_not_allowed",
				Param: ue.Where, Message: err.Error()}
		}
		return nil, err
	}
	if pol.pii == nil {
		return body, nil
	}
	out, findings, err := pol.pii.JSON(body)
	if err != nil {
		return body, nil // not JSON: the scan that follows says so
	}
	if len(findings) > 0 {
		s.log.LogAttrs(x.r.Context(), slog.LevelInfo, "pii found in request", slog.String("request_id", x.id),
			slog.String("findings", fmt.Sprint(findings)))
	}
	if f, blocked := pii.Blocked(findings); blocked {
		return nil, &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "pii_blocked",
			Message: fmt.Sprintf("the request contains data that policy rule %q does not let leave the gateway (%d occurrence(s)); remove it and retry", f.Rule, f.Count)}
	}
	return out, nil
}

// preHooks runs the policy's pre-request hooks, which may refuse the
// request or add messages and metadata. It returns the body to use.
func (s *Server) preHooks(x *exchange, r *http.Request, p *principal, body []byte) ([]byte, error) {
	pol := x.policy
	if pol == nil || len(pol.pre) == 0 {
		return body, nil
	}
	for _, h := range pol.pre {
		d, refusal, err := h.Run(r.Context(), hooks.Request{RequestID: x.id, Key: x.key, Team: p.teamName(),
			Model: x.model, Endpoint: r.URL.Path, Body: body})
		if err != nil {
			s.log.Warn("pre-request hook failed", "request_id", x.id, "hook", h.Name(), "fail_open", h.FailOpen(), "error", err)
		}
		if refusal != nil {
			return nil, hookError(refusal)
		}
		if d.Action == hooks.ActionModify {
			apply := hooks.Apply
			if x.anthropic {
				apply = hooks.ApplyAnthropic
			}
			if body, err = apply(body, d); err != nil {
				return nil, fmt.Errorf("hook %s: %w", h.Name(), err)
			}
		}
	}
	return body, nil
}

func hookError(r *hooks.Refusal) *Error {
	if r.Failed {
		return &Error{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "guardrail_unavailable", RetryAfter: "1",
			Message: "a guardrail this request must pass is unavailable; retry shortly"}
	}
	return &Error{Status: http.StatusForbidden, Type: "permission_error", Code: "request_denied", Message: r.Message()}
}

// holds reports whether the answer must be held back until the policy has
// seen it: post hooks or answer redaction on a non-streamed answer.
func (pol *compiledPolicy) holds(stream bool) bool {
	return pol != nil && !stream && (len(pol.post) > 0 || (pol.respPII && pol.pii != nil))
}

// held runs next with the answer held back when the policy must see it
// first (post hooks, answer redaction), and releases it.
func (s *Server) held(x *exchange, r *http.Request, p *principal, reqBody []byte, next func() error) error {
	if !x.policy.holds(false) {
		return next()
	}
	x.hold = true
	err := next()
	if x.heldStatus == 0 && len(x.held) == 0 {
		x.hold = false // nothing was written: the error is rendered as usual
		return err
	}
	x.wroteHeader = false
	s.release(x, r, p, reqBody)
	return err
}

// release writes a held answer after the post hooks and the answer's PII
// redaction, or the refusal a post hook asked for.
func (s *Server) release(x *exchange, r *http.Request, p *principal, reqBody []byte) {
	x.hold = false
	status, body := x.heldStatus, x.held
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusOK {
		for _, h := range x.policy.post {
			_, refusal, err := h.Run(r.Context(), hooks.Request{RequestID: x.id, Key: x.key, Team: p.teamName(),
				Model: x.model, Endpoint: r.URL.Path, Body: reqBody, Response: body})
			if err != nil {
				s.log.Warn("post-response hook failed", "request_id", x.id, "hook", h.Name(), "fail_open", h.FailOpen(), "error", err)
			}
			if refusal != nil {
				x.Header().Del("Content-Length")
				s.writeError(x, hookError(refusal))
				return
			}
		}
		if x.policy.respPII && x.policy.pii != nil {
			if out, findings, err := x.policy.pii.JSON(body); err == nil {
				if len(findings) > 0 {
					s.log.LogAttrs(r.Context(), slog.LevelInfo, "pii found in answer", slog.String("request_id", x.id),
						slog.String("findings", fmt.Sprint(findings)))
				}
				body = out
			}
		}
	}
	x.Header().Set("Content-Length", strconv.Itoa(len(body)))
	x.WriteHeader(status)
	x.Write(body)
}

// streamRedactor redacts the text of a streamed answer as it passes,
// holding back the tail that could still be the start of a match: OpenAI
// chunks (choices[].delta.content; the tail joins the chunk that carries the
// finish_reason) and Anthropic events (text_delta; the tail goes out as one
// more delta before content_block_stop).
type streamRedactor struct {
	newStream func() *pii.Stream
	s         *pii.Stream
	pending   []byte // bytes of an event not yet complete
}

func newStreamRedactor(r *pii.Redactor) *streamRedactor {
	return &streamRedactor{newStream: r.NewStream, s: r.NewStream()}
}

// filter takes what the relay writes and returns what to send: complete
// events, with their text redacted.
func (sr *streamRedactor) filter(p []byte) []byte {
	sr.pending = append(sr.pending, p...)
	var out []byte
	for {
		i := bytes.Index(sr.pending, []byte("\n\n"))
		if i < 0 {
			return out
		}
		out = sr.event(out, sr.pending[:i+2])
		sr.pending = sr.pending[i+2:]
	}
}

// event appends one SSE event, rewritten when it carries text.
func (sr *streamRedactor) event(out, ev []byte) []byte {
	var prefix, data []byte // the lines before "data: ", and its JSON
	rest := ev
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			data = bytes.TrimSpace(d)
			break
		}
		prefix = append(prefix, line...)
	}
	if len(data) == 0 || data[0] != '{' {
		return append(out, ev...)
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return append(out, ev...)
	}
	switch m["type"] {
	case "content_block_delta":
		delta, _ := m["delta"].(map[string]any)
		if t, _ := delta["type"].(string); t != "text_delta" {
			return append(out, ev...)
		}
		text, _ := delta["text"].(string)
		emit := sr.s.Push(text)
		if emit == text {
			return append(out, ev...)
		}
		delta["text"] = emit
		return appendEvent(out, prefix, m)
	case "content_block_stop":
		if tail := sr.s.Flush(); tail != "" {
			out = appendEvent(out, []byte("event: content_block_delta\n"), map[string]any{
				"type": "content_block_delta", "index": m["index"],
				"delta": map[string]any{"type": "text_delta", "text": tail}})
		}
		sr.s = sr.newStream()
		return append(out, ev...)
	}
	choices, _ := m["choices"].([]any)
	changed := false
	for _, c := range choices {
		cm, _ := c.(map[string]any)
		if cm == nil {
			continue
		}
		delta, _ := cm["delta"].(map[string]any)
		if delta == nil {
			continue
		}
		text, _ := delta["content"].(string)
		emit := sr.s.Push(text)
		if fr, _ := cm["finish_reason"].(string); fr != "" {
			emit += sr.s.Flush()
			sr.s = sr.newStream()
		}
		if emit != text {
			delta["content"] = emit
			changed = true
		}
	}
	if !changed {
		return append(out, ev...)
	}
	return appendEvent(out, prefix, m)
}

func appendEvent(out, prefix []byte, m map[string]any) []byte {
	b, err := json.Marshal(m, json.Deterministic(true))
	if err != nil {
		return out
	}
	out = append(out, prefix...)
	out = append(out, "data: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}
