package anthropic

import (
	"bytes"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// Stream translates one Anthropic Messages SSE stream
// (https://docs.anthropic.com/en/docs/build-with-claude/streaming) into
// OpenAI chat.completion.chunk SSE events, one event at a time: each call
// to Event appends only complete OpenAI events, so the caller can write
// and flush them at once.
//
// Event mapping:
//
//	message_start                 {"role":"assistant","content":""}
//	text_delta                    {"content":…}
//	thinking_delta                {"reasoning_content":…}
//	content_block_start tool_use  {"tool_calls":[{"index":i,"id","type":"function",
//	                               "function":{"name","arguments":""}}]}
//	input_json_delta              {"tool_calls":[{"index":i,"function":{"arguments":…}}]}
//	message_delta stop_reason     {} with finish_reason (see FromMessage)
//	message_stop                  the usage chunk ("choices":[]) when asked for,
//	                              then data: [DONE]
//	error                         data: {"error":{…}} (types as in ParseError)
//	ping, signature_delta, citations_delta, unknown events   nothing
//
// i counts client tool_use blocks from 0, so parallel calls keep their
// order. A tool_use whose input streamed no fragment gets arguments "{}"
// when its block stops, as FromMessage writes it. Server-tool blocks
// (server_tool_use and its results) ran on Anthropic's side and are not
// forwarded: the client must not execute them. Every chunk has the same
// id ("chatcmpl-" plus the message id without "msg_"), object, created
// and model, and is compact JSON.
//
// A Stream made by NewStreamJSON translates the answer to a request sent
// with response_format json_object or json_schema, as FromMessageJSON
// does: the forced JSON tool's tool_use block start appends nothing, its
// input_json_delta fragments become {"content":…} fragments (the JSON as
// Anthropic streams it, not compacted), text blocks are left out, and
// stop_reason tool_use gives finish_reason "stop".
//
// A Stream is not safe for concurrent use; create one per response.
type Stream struct {
	model        string
	includeUsage bool
	jsonTool     []byte // the JSON tool's name as a JSON string, or nil

	out    chat.ChunkWriter
	blocks []blockState
	nTools int
	usage  anthropicUsage
	done   bool

	bb  bytes.Buffer
	dec jsontext.Decoder
	ev  event
}

// blockState is what the Stream remembers of one content block.
type blockState struct {
	index int64
	kind  blockKind
	tool  int  // OpenAI tool_calls index, for kindTool
	args  bool // a non-empty input fragment was sent
}

type blockKind uint8

const (
	kindOther blockKind = iota // not forwarded (server tools, ...)
	kindText
	kindThinking
	kindTool
	kindJSON // the forced tool of response_format: its input is content
)

// NewStream returns a Stream whose chunks name model. When includeUsage
// is true (the client sent stream_options.include_usage), message_stop
// appends OpenAI's final usage chunk before [DONE]; Usage reports the
// counts either way.
func NewStream(model string, includeUsage bool) *Stream {
	return &Stream{model: model, includeUsage: includeUsage}
}

// NewStreamJSON is NewStream for a request that ToMessages sent with
// response_format json_object or json_schema: the call of the tool named
// jsonTool (see JSONToolName) streams as content, and text is left out
// (see Stream). An empty jsonTool is NewStream.
func NewStreamJSON(model string, includeUsage bool, jsonTool string) *Stream {
	s := NewStream(model, includeUsage)
	if jsonTool != "" {
		// Tool names are [a-zA-Z0-9_-]{1,64}, which Anthropic writes
		// unescaped, so the raw name token can be compared as bytes.
		s.jsonTool, _ = jsontext.AppendQuote(nil, jsonTool)
	}
	return s
}

// Usage returns the usage seen so far: input counts from message_start,
// updated (all counts are cumulative) by each message_delta. After a cut
// stream it is the partial usage to record.
func (s *Stream) Usage() Usage { return s.usage.usage() }

// Done reports whether message_stop has been seen, i.e. the stream ended
// normally. After an error event, or a stream cut short, it is false.
func (s *Stream) Done() bool { return s.done }

// Event translates one Anthropic SSE event, its name (the "event:" field)
// and data, appending zero or more complete OpenAI SSE events
// ("data: {…}\n\n") to dst, and returns the extended buffer. When name is
// empty the data's "type" member names the event. ping and unknown events
// (Anthropic may add new ones) append nothing; so does any event after
// message_stop. Data that is not a JSON object is an error, and nothing is
// appended. name and data are not retained.
func (s *Stream) Event(dst []byte, name, data []byte) ([]byte, error) {
	if s.done || string(name) == "ping" {
		return dst, nil
	}
	if err := s.parse(data); err != nil {
		return dst, fmt.Errorf("anthropic: decode stream event %q: %w", name, err)
	}
	ev := &s.ev
	if len(name) == 0 {
		name = ev.typ
	}
	switch string(name) {
	case "message_start":
		s.usage = ev.usage
		s.start(ev.messageID)
		dst = s.out.Role(dst)
	case "content_block_start":
		b := blockState{index: ev.index}
		switch string(ev.blockType) {
		case "text":
			b.kind = kindText
			if s.jsonTool != nil {
				b.kind = kindOther
			} else if nonEmpty(ev.blockText) {
				dst = s.w().Content(dst, ev.blockText)
			}
		case "thinking":
			b.kind = kindThinking
			if nonEmpty(ev.blockThinking) {
				dst = s.w().Reasoning(dst, ev.blockThinking)
			}
		case "tool_use":
			if s.jsonTool != nil && bytes.Equal(ev.blockName, s.jsonTool) {
				b.kind = kindJSON
				break
			}
			b.kind, b.tool = kindTool, s.nTools
			s.nTools++
			dst = s.w().ToolCallStart(dst, b.tool, ev.blockID, ev.blockName)
		}
		s.blocks = append(s.blocks, b)
	case "content_block_delta":
		switch string(ev.deltaType) {
		case "text_delta":
			if s.jsonTool == nil && nonEmpty(ev.text) {
				dst = s.w().Content(dst, ev.text)
			}
		case "thinking_delta":
			if nonEmpty(ev.thinking) {
				dst = s.w().Reasoning(dst, ev.thinking)
			}
		case "input_json_delta":
			if b := s.block(ev.index); b != nil && b.kind == kindTool && nonEmpty(ev.partialJSON) {
				b.args = true
				dst = s.w().ToolArguments(dst, b.tool, ev.partialJSON)
			} else if b != nil && b.kind == kindJSON && nonEmpty(ev.partialJSON) {
				b.args = true
				dst = s.w().Content(dst, ev.partialJSON)
			}
		}
	case "content_block_stop":
		if b := s.block(ev.index); b != nil && !b.args {
			switch b.kind {
			case kindTool:
				b.args = true
				dst = s.w().ToolArguments(dst, b.tool, []byte(`"{}"`))
			case kindJSON:
				b.args = true
				dst = s.w().Content(dst, []byte(`"{}"`))
			}
		}
	case "message_delta":
		s.updateUsage(ev)
		if ev.stopReason != nil {
			finish := finishReason(string(ev.stopReason))
			if s.jsonTool != nil && finish == "tool_calls" && s.nTools == 0 {
				finish = "stop"
			}
			dst = s.w().Finish(dst, finish)
		}
	case "message_stop":
		s.done = true
		if s.includeUsage {
			dst = s.w().Usage(dst, toOpenAIUsage(s.usage.usage()))
		}
		dst = s.out.Done(dst)
	case "error":
		e := APIError{Message: string(ev.errMessage)}
		e.Status, e.Type, e.Code = classify(200, string(ev.errType))
		dst = appendErrorEvent(dst, e)
	}
	return dst, nil
}

// start fixes the chunks' id ("chatcmpl-" plus the message id without
// "msg_"), created and model.
func (s *Stream) start(messageID []byte) {
	s.out.Start(bytes.TrimPrefix(messageID, []byte("msg_")), s.model, now().Unix())
}

// w returns the chunk writer, started without an id when no
// message_start came first: a broken upstream, still answer.
func (s *Stream) w() *chat.ChunkWriter {
	if !s.out.Started() {
		s.start(nil)
	}
	return &s.out
}

// block returns the state of the content block with Anthropic index i, or
// nil. Blocks arrive in order, so the search starts from the last one.
func (s *Stream) block(i int64) *blockState {
	for j := len(s.blocks) - 1; j >= 0; j-- {
		if s.blocks[j].index == i {
			return &s.blocks[j]
		}
	}
	return nil
}

// updateUsage takes the counts message_delta carries; they are cumulative,
// and the input counts are present only on newer API versions.
func (s *Stream) updateUsage(ev *event) {
	u := &ev.usage
	if ev.has&hasOutput != 0 {
		s.usage.OutputTokens = u.OutputTokens
	}
	if ev.has&hasInput != 0 {
		s.usage.InputTokens = u.InputTokens
	}
	if ev.has&hasCacheRead != 0 {
		s.usage.CacheReadInputTokens = u.CacheReadInputTokens
	}
	if ev.has&hasCacheCreation != 0 {
		s.usage.CacheCreationInputTokens = u.CacheCreationInputTokens
	}
}

func nonEmpty(str []byte) bool { return len(str) > 2 }

// appendString appends a JSON string token copied from an event, or ""
// when it was absent.
func appendString(dst, str []byte) []byte {
	if len(str) == 0 {
		return append(dst, `""`...)
	}
	return append(dst, str...)
}
