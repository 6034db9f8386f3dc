package bedrock

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// Stream translates one ConverseStream answer
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html),
// frame by frame as Decoder returns them, into OpenAI
// chat.completion.chunk SSE events: each call to Frame appends only
// complete OpenAI events, so the caller can write and flush them at once.
//
// Frame mapping:
//
//	messageStart                         {"role":"assistant","content":""}
//	contentBlockDelta text               {"content":…}
//	contentBlockDelta reasoningContent.text
//	                                     {"reasoning_content":…}
//	contentBlockStart start.toolUse      {"tool_calls":[{"index":i,"id","type":"function",
//	                                      "function":{"name","arguments":""}}]}
//	contentBlockDelta toolUse.input      {"tool_calls":[{"index":i,"function":{"arguments":…}}]}
//	messageStop stopReason               {} with finish_reason (see FromConverse)
//	metadata                             the usage chunk ("choices":[]) when asked for,
//	                                     then data: [DONE]
//	exception and error frames           data: {"error":{…}} (types as in ParseError)
//	reasoningContent.signature/redactedContent, contentBlockStop of text,
//	unknown events                       nothing
//
// i counts toolUse blocks from 0, so parallel calls keep their order. A
// toolUse whose input streamed no fragment gets arguments "{}" at its
// contentBlockStop, as FromConverse writes it. The "p" padding member of
// every payload is ignored. Every chunk has the same id ("chatcmpl-" plus
// random characters), object, created and model, and is compact JSON.
//
// A Stream made by NewStreamJSON translates the answer to a request sent
// with response_format json_object or json_schema, as FromConverseJSON
// does: the forced JSON tool's contentBlockStart appends nothing, its
// toolUse.input fragments become {"content":…} fragments, text deltas
// are left out, and stopReason tool_use gives finish_reason "stop".
//
// A Stream is not safe for concurrent use; create one per response.
type Stream struct {
	model        string
	includeUsage bool
	jsonTool     []byte // the JSON tool's name as a JSON string, or nil
	nCalls       int    // toolUse blocks sent as OpenAI tool calls

	out   chat.ChunkWriter
	tools []toolState
	usage converseUsage
	done  bool

	bb  bytes.Buffer
	dec jsontext.Decoder
	ev  event
}

// toolState is what the Stream remembers of one toolUse block.
type toolState struct {
	block int64 // contentBlockIndex
	index int   // OpenAI tool_calls index
	args  bool  // a non-empty input fragment was sent
	json  bool  // the forced tool of response_format: its input is content
}

// NewStream returns a Stream whose chunks name model. When includeUsage is
// true (the client sent stream_options.include_usage), the metadata frame
// appends OpenAI's final usage chunk before [DONE]; Usage reports the
// counts either way.
func NewStream(model string, includeUsage bool) *Stream {
	return &Stream{model: model, includeUsage: includeUsage}
}

// NewStreamJSON is NewStream for a request that ToConverse sent with
// response_format json_object or json_schema: the call of the tool named
// jsonTool (see JSONToolName) streams as content, and text is left out
// (see Stream). An empty jsonTool is NewStream.
func NewStreamJSON(model string, includeUsage bool, jsonTool string) *Stream {
	s := NewStream(model, includeUsage)
	if jsonTool != "" {
		// Tool names are [a-zA-Z0-9_-]{1,64}, which Bedrock writes
		// unescaped, so the raw name token can be compared as bytes.
		s.jsonTool, _ = jsontext.AppendQuote(nil, jsonTool)
	}
	return s
}

// Usage returns the usage of the metadata frame, zero before it (Bedrock
// reports usage only at the end, so a cut stream has none).
func (s *Stream) Usage() Usage { return s.usage.usage() }

// Done reports whether the metadata frame, the last of a complete
// ConverseStream answer, has been seen. After an exception, or a stream
// cut short, it is false.
func (s *Stream) Done() bool { return s.done }

// Frame translates one decoded frame, appending zero or more complete
// OpenAI SSE events ("data: {…}\n\n") to dst, and returns the extended
// buffer. Frames after the metadata frame append nothing. A payload that
// is not a JSON object is an error, and nothing is appended. f is not
// retained.
func (s *Stream) Frame(dst []byte, f Frame) ([]byte, error) {
	if s.done {
		return dst, nil
	}
	if err := s.parse(f.Payload); err != nil {
		return dst, fmt.Errorf("bedrock: decode stream frame %q: %w", f.EventType+f.ExceptionType, err)
	}
	ev := &s.ev
	if f.MessageType == "exception" || f.MessageType == "error" {
		return appendErrorEvent(dst, newAPIError(200, f.ExceptionType, string(ev.message))), nil
	}
	switch f.EventType {
	case "messageStart":
		dst = s.w().Role(dst)
	case "contentBlockStart":
		if ev.toolID == nil && ev.toolName == nil {
			break
		}
		if s.jsonTool != nil && bytes.Equal(ev.toolName, s.jsonTool) {
			s.tools = append(s.tools, toolState{block: ev.index, json: true})
			break
		}
		t := toolState{block: ev.index, index: s.nCalls}
		s.nCalls++
		s.tools = append(s.tools, t)
		dst = s.w().ToolCallStart(dst, t.index, ev.toolID, ev.toolName)
	case "contentBlockDelta":
		switch {
		case nonEmpty(ev.text):
			if s.jsonTool == nil {
				dst = s.w().Content(dst, ev.text)
			}
		case nonEmpty(ev.reasoning):
			dst = s.w().Reasoning(dst, ev.reasoning)
		case nonEmpty(ev.input):
			if t := s.tool(ev.index); t != nil {
				t.args = true
				if t.json {
					dst = s.w().Content(dst, ev.input)
				} else {
					dst = s.w().ToolArguments(dst, t.index, ev.input)
				}
			}
		}
	case "contentBlockStop":
		if t := s.tool(ev.index); t != nil && !t.args {
			t.args = true
			if t.json {
				dst = s.w().Content(dst, []byte(`"{}"`))
			} else {
				dst = s.w().ToolArguments(dst, t.index, []byte(`"{}"`))
			}
		}
	case "messageStop":
		finish := finishReason(string(ev.stopReason))
		if s.jsonTool != nil && finish == "tool_calls" && s.nCalls == 0 {
			finish = "stop"
		}
		dst = s.w().Finish(dst, finish)
	case "metadata":
		s.usage = ev.usage
		s.done = true
		if s.includeUsage {
			dst = s.w().Usage(dst, toOpenAIUsage(s.usage.usage()))
		}
		dst = s.out.Done(dst)
	}
	return dst, nil
}

// w returns the chunk writer, started on first use with a made-up id
// (see newID).
func (s *Stream) w() *chat.ChunkWriter {
	if !s.out.Started() {
		s.out.Start([]byte(newID()), s.model, now().Unix())
	}
	return &s.out
}

// tool returns the state of the toolUse block with contentBlockIndex i,
// or nil.
func (s *Stream) tool(i int64) *toolState {
	for j := len(s.tools) - 1; j >= 0; j-- {
		if s.tools[j].block == i {
			return &s.tools[j]
		}
	}
	return nil
}

func nonEmpty(str []byte) bool { return len(str) > 2 }

// event is what the Stream reads from one payload. Fields marked raw are
// JSON string tokens, quotes and escapes included, aliasing the payload;
// they are copied into the OpenAI chunk as they are. All are valid only
// during one Frame call.
type event struct {
	index      int64
	text       []byte // raw delta.text
	reasoning  []byte // raw delta.reasoningContent.text
	input      []byte // raw delta.toolUse.input
	toolID     []byte // raw start.toolUse.toolUseId
	toolName   []byte // raw start.toolUse.name
	stopReason []byte // unquoted
	message    []byte // unquoted (exceptions)
	usage      converseUsage
}

var errNotObject = errors.New("payload is not a JSON object")

// parse reads data into s.ev with the Stream's jsontext.Decoder, which
// parses a bytes.Buffer in place. Unknown members (the "p" padding,
// metrics, ...) are skipped; members of an unexpected kind are ignored.
func (s *Stream) parse(data []byte) error {
	s.ev = event{}
	s.bb = *bytes.NewBuffer(data)
	s.dec.Reset(&s.bb)
	if ok, err := chat.Enter(&s.dec); !ok {
		if err == nil {
			err = errNotObject
		}
		return err
	}
	ev := &s.ev
	err := chat.Members(&s.dec, func(name []byte) (err error) {
		switch string(name) {
		case "contentBlockIndex":
			ev.index, err = chat.IntExact(&s.dec)
		case "stopReason":
			ev.stopReason, err = chat.Str(&s.dec, data)
		case "message", "Message":
			ev.message, err = chat.Str(&s.dec, data)
		case "delta":
			err = chat.Object(&s.dec, func(name []byte) (err error) {
				switch string(name) {
				case "text":
					ev.text, err = chat.Raw(&s.dec, data)
				case "reasoningContent":
					err = chat.Object(&s.dec, func(name []byte) (err error) {
						if string(name) == "text" {
							ev.reasoning, err = chat.Raw(&s.dec, data)
							return err
						}
						return s.dec.SkipValue()
					})
				case "toolUse":
					err = chat.Object(&s.dec, func(name []byte) (err error) {
						if string(name) == "input" {
							ev.input, err = chat.Raw(&s.dec, data)
							return err
						}
						return s.dec.SkipValue()
					})
				default:
					err = s.dec.SkipValue()
				}
				return err
			})
		case "start":
			err = chat.Object(&s.dec, func(name []byte) error {
				if string(name) != "toolUse" {
					return s.dec.SkipValue()
				}
				return chat.Object(&s.dec, func(name []byte) (err error) {
					switch string(name) {
					case "toolUseId":
						ev.toolID, err = chat.Raw(&s.dec, data)
					case "name":
						ev.toolName, err = chat.Raw(&s.dec, data)
					default:
						err = s.dec.SkipValue()
					}
					return err
				})
			})
		case "usage":
			err = chat.Object(&s.dec, func(name []byte) (err error) {
				u := &ev.usage
				switch string(name) {
				case "inputTokens":
					u.InputTokens, err = chat.IntExact(&s.dec)
				case "outputTokens":
					u.OutputTokens, err = chat.IntExact(&s.dec)
				case "cacheReadInputTokens":
					u.CacheReadInputTokens, err = chat.IntExact(&s.dec)
				case "cacheWriteInputTokens":
					u.CacheWriteInputTokens, err = chat.IntExact(&s.dec)
				default:
					err = s.dec.SkipValue()
				}
				return err
			})
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
	if err != nil {
		return err
	}
	// Nothing may follow the object.
	if _, err := s.dec.ReadToken(); err == nil {
		return errNotObject
	}
	return nil
}
