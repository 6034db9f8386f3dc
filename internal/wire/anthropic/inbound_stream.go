package anthropic

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// InboundStream translates one OpenAI chat.completion.chunk SSE stream
// into Anthropic Messages SSE events
// (https://docs.anthropic.com/en/docs/build-with-claude/streaming), one
// chunk at a time and without buffering: each call appends only complete
// "event: X\ndata: {…}\n\n" events, so the caller can write and flush them
// at once.
//
// Event mapping:
//
//	first chunk with choices or usage   message_start (empty content; usage
//	                                    as far as known, usually 0)
//	delta.reasoning_content (or         content_block_start thinking
//	  "reasoning")                      (signature ""), thinking_delta
//	delta.content, delta.refusal        content_block_start text, text_delta
//	delta.tool_calls, a new call        content_block_start tool_use {id, name,
//	                                    input:{}}, then input_json_delta with
//	                                    each arguments fragment
//	finish_reason                       remembered (see ToMessage)
//	usage (any chunk)                   remembered; reported by Usage and
//	                                    in message_delta
//	{"error":{…}}                       event: error; the stream is over
//	Finish ([DONE] or end of body)      content_block_stop, message_delta
//	                                    {stop_reason, stop_sequence:null,
//	                                    usage}, message_stop
//
// Only one block is open at a time: a delta of another kind closes the
// open block (content_block_stop) and starts the next, so block indexes
// count from 0, increase by one, and every start has its stop. Tool calls
// are told apart by their OpenAI index and id; Mistral sends neither
// index nor (on later fragments) id, and a delta without them continues
// the open call. Arguments that arrive for a call whose block was already
// closed (an upstream interleaving parallel calls, which no known server
// does) are an error, as they can no longer be delivered. A call without
// an id gets "toolu_" plus its position. The message id is "msg_" plus the
// first chunk's id without "chatcmpl-". Choices other than index 0 are
// ignored. Azure's leading chunk (no choices, prompt_filter_results only)
// appends nothing.
//
// An InboundStream is not safe for concurrent use; create one per
// response.
type InboundStream struct {
	model string
	st    inboundState
	c     chunk
	p     chunkParser
}

// inboundState is the part of an InboundStream that a chunk changes; Chunk
// restores it when the chunk fails.
type inboundState struct {
	started, finished, failed bool

	next int64     // index of the next Anthropic block
	open blockKind // kind of the open block, kindOther when none
	tool toolKey   // the open tool call, when open == kindTool
	// tools are the calls whose blocks were opened, in order. Append only.
	tools []toolKey

	finish   string // last finish_reason
	usage    Usage
	hasUsage bool
}

// toolKey identifies an OpenAI tool call across deltas.
type toolKey struct {
	index    int64
	hasIndex bool
	id       string
}

// chunk is what InboundStream reads from one OpenAI chunk. Fields marked
// raw are JSON string tokens aliasing the data, copied into Anthropic
// events as they are.
type chunk struct {
	id        []byte // unquoted
	hasChoice bool
	reasoning []byte // raw
	content   []byte // raw
	refusal   []byte // raw
	finish    []byte // unquoted, nil when null or absent
	tools     []toolDelta

	usage    Usage
	hasUsage bool

	hasError         bool
	errType, errCode []byte // unquoted (a number's text for errCode)
	errMessage       []byte // unquoted
}

type toolDelta struct {
	index    int64
	hasIndex bool
	id       []byte // raw
	name     []byte // raw
	args     []byte // raw
}

// NewInboundStream returns an InboundStream whose message names model.
func NewInboundStream(model string) *InboundStream {
	return &InboundStream{model: model}
}

// Usage returns the usage seen so far, in OpenAI terms (PromptTokens
// includes CachedTokens). OpenAI-compatible servers report it once, in the
// last chunk, so after a cut stream it is usually zero.
func (s *InboundStream) Usage() Usage { return s.st.usage }

var errLateToolArguments = errors.New("tool call arguments arrived after the call's block was closed")

// Chunk translates one OpenAI SSE data payload and appends zero or more
// complete Anthropic SSE events to dst, returning the extended buffer.
// data "[DONE]" is taken as Finish. Data that is not a JSON object, or that
// breaks the stream's rules (see InboundStream), is an error: nothing is
// appended, the InboundStream is as before the call, and the caller ends
// the stream with AppendErrorEvent. After Finish or an error event from
// the upstream, Chunk appends nothing. data is not retained.
func (s *InboundStream) Chunk(dst, data []byte) ([]byte, error) {
	if string(bytes.TrimSpace(data)) == "[DONE]" {
		return s.Finish(dst), nil
	}
	if s.st.finished || s.st.failed {
		return dst, nil
	}
	if err := s.parse(data); err != nil {
		return dst, fmt.Errorf("anthropic: decode chat chunk: %w", err)
	}
	saved, n, nTools := s.st, len(dst), len(s.st.tools)
	dst, err := s.apply(dst)
	if err != nil {
		s.st = saved
		s.st.tools = s.st.tools[:nTools]
		return dst[:n], fmt.Errorf("anthropic: translate chat chunk: %w", err)
	}
	return dst, nil
}

func (s *InboundStream) apply(dst []byte) ([]byte, error) {
	c := &s.c
	st := &s.st
	if c.hasError {
		st.failed = true
		return AppendErrorEvent(dst, streamErrorType(c.errType, c.errCode), string(c.errMessage)), nil
	}
	if c.hasUsage {
		st.usage, st.hasUsage = c.usage, true
	}
	if !c.hasChoice && !c.hasUsage {
		return dst, nil
	}
	if !st.started {
		dst = s.start(dst, c.id)
	}
	if nonEmpty(c.reasoning) {
		dst = s.openBlock(dst, kindThinking, nil, nil)
		dst = s.delta(dst, `thinking_delta","thinking":`, c.reasoning)
	}
	for _, text := range [2][]byte{c.content, c.refusal} {
		if nonEmpty(text) {
			dst = s.openBlock(dst, kindText, nil, nil)
			dst = s.delta(dst, `text_delta","text":`, text)
		}
	}
	for i := range c.tools {
		var err error
		if dst, err = s.toolDelta(dst, &c.tools[i]); err != nil {
			return dst, err
		}
	}
	if c.finish != nil {
		st.finish = string(c.finish)
	}
	return dst, nil
}

func (s *InboundStream) toolDelta(dst []byte, d *toolDelta) ([]byte, error) {
	st := &s.st
	var id string
	if len(d.id) > 0 {
		id = string(chat.Unquote(d.id))
	}
	same := func(k toolKey) bool {
		if d.hasIndex && k.hasIndex && d.index != k.index {
			return false
		}
		return id == "" || id == k.id
	}
	if st.open != kindTool || !same(st.tool) {
		// A call seen before whose block is closed: only empty fragments
		// can be let go.
		for _, k := range st.tools {
			if (d.hasIndex || id != "") && same(k) && (id != "" || k.hasIndex) {
				if nonEmpty(d.args) {
					return dst, errLateToolArguments
				}
				return dst, nil
			}
		}
		k := toolKey{index: d.index, hasIndex: d.hasIndex, id: id}
		if id == "" {
			k.id = "toolu_" + strconv.Itoa(len(st.tools))
		}
		st.tools = append(st.tools, k)
		idTok := d.id
		if id == "" {
			idTok, _ = jsontext.AppendQuote(nil, k.id)
		}
		dst = s.openBlock(dst, kindTool, idTok, d.name)
		st.tool = k
	}
	if nonEmpty(d.args) {
		dst = s.delta(dst, `input_json_delta","partial_json":`, d.args)
	}
	return dst, nil
}

// Finish ends the stream: it appends message_start if no chunk started
// it, content_block_stop for the open block, message_delta with the
// stop_reason (from the last finish_reason, as ToMessage maps it;
// end_turn when there was none) and usage, and message_stop, and returns
// the extended buffer. Call it at data: [DONE], or when the body ends
// without it if the stream is to be treated as complete. After an error
// event, or a second time, it appends nothing.
func (s *InboundStream) Finish(dst []byte) []byte {
	st := &s.st
	if st.finished || st.failed {
		return dst
	}
	st.finished = true
	if !st.started {
		dst = s.start(dst, nil)
	}
	dst = s.closeBlock(dst)
	dst = append(dst, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""...)
	dst = append(dst, stopReason(st.finish, len(st.tools) > 0, false)...)
	dst = append(dst, `","stop_sequence":null},"usage":`...)
	if st.hasUsage {
		dst = appendMessageUsage(dst, st.usage, st.usage.CompletionTokens)
	} else {
		dst = append(dst, `{"output_tokens":0}`...)
	}
	dst = append(dst, "}\n\n"...)
	return append(dst, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

// start appends message_start.
func (s *InboundStream) start(dst, chunkID []byte) []byte {
	s.st.started = true
	dst = append(dst, `event: message_start`+"\n"+`data: {"type":"message_start","message":{"id":`...)
	dst, _ = jsontext.AppendQuote(dst, messageID(string(chunkID)))
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst, _ = jsontext.AppendQuote(dst, s.model)
	dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	dst = appendMessageUsage(dst, s.st.usage, 0)
	return append(dst, "}}\n\n"...)
}

func appendMessageUsage(dst []byte, u Usage, output int64) []byte {
	a := anthropicUsageOf(u)
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, a.InputTokens, 10)
	dst = append(dst, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":`...)
	dst = strconv.AppendInt(dst, a.CacheReadInputTokens, 10)
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, output, 10)
	return append(dst, '}')
}

// openBlock makes sure a block of kind is open, closing another one;
// id and name are the raw JSON strings of a tool_use block. A tool block
// is always new.
func (s *InboundStream) openBlock(dst []byte, kind blockKind, id, name []byte) []byte {
	st := &s.st
	if st.open == kind && kind != kindTool {
		return dst
	}
	dst = s.closeBlock(dst)
	st.open = kind
	dst = append(dst, `event: content_block_start`+"\n"+`data: {"type":"content_block_start","index":`...)
	dst = strconv.AppendInt(dst, st.next, 10)
	switch kind {
	case kindThinking:
		dst = append(dst, `,"content_block":{"type":"thinking","thinking":"","signature":""}}`...)
	case kindText:
		dst = append(dst, `,"content_block":{"type":"text","text":""}}`...)
	case kindTool:
		dst = append(dst, `,"content_block":{"type":"tool_use","id":`...)
		dst = appendString(dst, id)
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, name)
		dst = append(dst, `,"input":{}}}`...)
	}
	return append(dst, "\n\n"...)
}

// closeBlock appends content_block_stop for the open block, if any.
func (s *InboundStream) closeBlock(dst []byte) []byte {
	st := &s.st
	if st.open == kindOther {
		return dst
	}
	dst = append(dst, `event: content_block_stop`+"\n"+`data: {"type":"content_block_stop","index":`...)
	dst = strconv.AppendInt(dst, st.next, 10)
	st.next++
	st.open = kindOther
	return append(dst, "}\n\n"...)
}

// delta appends a content_block_delta for the open block; kind is the
// delta type and member name, str a raw JSON string.
func (s *InboundStream) delta(dst []byte, kind string, str []byte) []byte {
	dst = append(dst, `event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":`...)
	dst = strconv.AppendInt(dst, s.st.next, 10)
	dst = append(dst, `,"delta":{"type":"`...)
	dst = append(dst, kind...)
	dst = append(dst, str...)
	return append(dst, "}}\n\n"...)
}

// streamErrorType maps the type and code of an OpenAI-shaped mid-stream
// error to an Anthropic error type.
func streamErrorType(typ, code []byte) string {
	if n, err := strconv.Atoi(string(code)); err == nil && n >= 400 && n <= 599 {
		return ErrorType(n)
	}
	for _, v := range [2][]byte{code, typ} {
		switch {
		case bytes.Contains(v, []byte("rate_limit")), string(v) == "insufficient_quota":
			return "rate_limit_error"
		case bytes.Contains(v, []byte("overloaded")), string(v) == "service_unavailable":
			return "overloaded_error"
		case string(v) == "invalid_request_error":
			return "invalid_request_error"
		case bytes.Contains(v, []byte("timeout")):
			return "timeout_error"
		}
	}
	return "api_error"
}

// chunkDecodeOptions skip jsontext's duplicate-name check, which
// allocates a name set per object: a chunk with a duplicate member is read
// with the last value winning, as encoding/json does.
var chunkDecodeOptions = jsontext.AllowDuplicateNames(true)

// chunkParser walks one chunk with a jsontext.Decoder that parses a
// bytes.Buffer in place.
type chunkParser struct {
	bb   bytes.Buffer
	dec  jsontext.Decoder
	data []byte
}

// parse reads data into s.c. Unknown members are skipped; members of an
// unexpected JSON kind are ignored.
func (s *InboundStream) parse(data []byte) error {
	c := &s.c
	*c = chunk{tools: c.tools[:0]}
	p := &s.p
	p.data = data
	p.bb = *bytes.NewBuffer(data)
	p.dec.Reset(&p.bb, chunkDecodeOptions)
	defer func() {
		p.data = nil
		p.bb = bytes.Buffer{}
	}()
	if p.dec.PeekKind() != '{' {
		return errNotObject
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	for {
		name, ok, err := chat.Member(&p.dec)
		if !ok || err != nil {
			if err == nil {
				err = p.end()
			}
			return err
		}
		switch string(name) {
		case "id":
			c.id, err = chat.Str(&p.dec, p.data)
		case "choices":
			err = s.parseChoices()
		case "usage":
			err = p.parseUsage(&c.usage, &c.hasUsage)
		case "error":
			err = s.parseError()
		default:
			err = p.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

func (s *InboundStream) parseChoices() error {
	p := &s.p
	if p.dec.PeekKind() != '[' {
		return p.dec.SkipValue()
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	for p.dec.PeekKind() != ']' {
		if err := s.parseChoice(); err != nil {
			return err
		}
	}
	_, err := p.dec.ReadToken()
	return err
}

// parseChoice reads one choice and keeps it when it is the first with
// index 0.
func (s *InboundStream) parseChoice() error {
	p, c := &s.p, &s.c
	if ok, err := chat.Enter(&p.dec); !ok {
		return err
	}
	saved := *c
	var index int64
	for {
		name, ok, err := chat.Member(&p.dec)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(name) {
		case "index":
			index, err = chat.Int(&p.dec)
		case "delta":
			err = s.parseDelta()
		case "finish_reason":
			c.finish, err = chat.Str(&p.dec, p.data)
		default:
			err = p.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
	if index != 0 || saved.hasChoice {
		tools := c.tools[:len(saved.tools)]
		*c = saved
		c.tools = tools
		return nil
	}
	c.hasChoice = true
	return nil
}

func (s *InboundStream) parseDelta() error {
	p, c := &s.p, &s.c
	return chat.Object(&p.dec, func(name []byte) (err error) {
		switch string(name) {
		case "content":
			c.content, err = chat.Raw(&p.dec, p.data)
		case "reasoning_content", "reasoning":
			var r []byte
			if r, err = chat.Raw(&p.dec, p.data); nonEmpty(r) && !nonEmpty(c.reasoning) {
				c.reasoning = r
			}
		case "refusal":
			c.refusal, err = chat.Raw(&p.dec, p.data)
		case "tool_calls":
			err = s.parseToolCalls()
		default:
			err = p.dec.SkipValue()
		}
		return err
	})
}

func (s *InboundStream) parseToolCalls() error {
	p, c := &s.p, &s.c
	if p.dec.PeekKind() != '[' {
		return p.dec.SkipValue()
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	for p.dec.PeekKind() != ']' {
		ok, err := chat.Enter(&p.dec)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		var d toolDelta
		for {
			name, ok, err := chat.Member(&p.dec)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			switch string(name) {
			case "index":
				if p.dec.PeekKind() == '0' {
					d.hasIndex = true
				}
				d.index, err = chat.Int(&p.dec)
			case "id":
				d.id, err = chat.Raw(&p.dec, p.data)
			case "function":
				err = p.parseFunction(&d)
			default:
				err = p.dec.SkipValue()
			}
			if err != nil {
				return err
			}
		}
		c.tools = append(c.tools, d)
	}
	_, err := p.dec.ReadToken()
	return err
}

func (p *chunkParser) parseFunction(d *toolDelta) error {
	return chat.Object(&p.dec, func(name []byte) (err error) {
		switch string(name) {
		case "name":
			d.name, err = chat.Raw(&p.dec, p.data)
		case "arguments":
			d.args, err = chat.Raw(&p.dec, p.data)
		default:
			err = p.dec.SkipValue()
		}
		return err
	})
}

// parseUsage reads an OpenAI usage object; null or another kind leaves
// *has false.
func (p *chunkParser) parseUsage(u *Usage, has *bool) error {
	if ok, err := chat.Enter(&p.dec); !ok {
		return err
	}
	*has = true
	for {
		name, ok, err := chat.Member(&p.dec)
		if !ok || err != nil {
			return err
		}
		switch string(name) {
		case "prompt_tokens":
			u.PromptTokens, err = chat.Int(&p.dec)
		case "completion_tokens":
			u.CompletionTokens, err = chat.Int(&p.dec)
		case "prompt_tokens_details":
			err = p.detail("cached_tokens", &u.CachedTokens)
		case "completion_tokens_details":
			err = p.detail("reasoning_tokens", &u.ReasoningTokens)
		default:
			err = p.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

// detail reads the count named want from a *_tokens_details object.
func (p *chunkParser) detail(want string, dst *int64) error {
	return chat.Object(&p.dec, func(name []byte) (err error) {
		if string(name) == want {
			*dst, err = chat.Int(&p.dec)
		} else {
			err = p.dec.SkipValue()
		}
		return err
	})
}

// parseError reads {"error":{"message","type","code"}} or
// {"error":"text"}.
func (s *InboundStream) parseError() error {
	p, c := &s.p, &s.c
	switch p.dec.PeekKind() {
	case '"':
		c.hasError = true
		var err error
		c.errMessage, err = chat.Str(&p.dec, p.data)
		return err
	case '{':
	default:
		return p.dec.SkipValue()
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	c.hasError = true
	for {
		name, ok, err := chat.Member(&p.dec)
		if !ok || err != nil {
			return err
		}
		switch string(name) {
		case "message":
			c.errMessage, err = chat.Str(&p.dec, p.data)
		case "type":
			c.errType, err = chat.Str(&p.dec, p.data)
		case "code":
			if p.dec.PeekKind() == '0' {
				c.errCode, err = chat.Value(&p.dec, p.data)
			} else {
				c.errCode, err = chat.Str(&p.dec, p.data)
			}
		default:
			err = p.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

// end checks that nothing but whitespace follows the object.
func (p *chunkParser) end() error {
	for _, b := range p.data[p.dec.InputOffset():] {
		switch b {
		case ' ', '\t', '\r', '\n':
		default:
			return errors.New("data after the JSON object")
		}
	}
	return nil
}
