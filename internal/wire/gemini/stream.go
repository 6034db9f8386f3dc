package gemini

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// Stream translates one Gemini stream (streamGenerateContent?alt=sse,
// https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent)
// into OpenAI chat.completion.chunk SSE events, one payload at a time: each
// call to Event appends only complete OpenAI events, so the caller can
// write and flush them at once. Every Gemini event is a whole
// GenerateContentResponse holding the next parts of the first candidate.
//
// Mapping:
//
//	first event                   {"role":"assistant","content":""}
//	text part                     {"content":…}
//	thought part (thought:true)   {"reasoning_content":…}
//	functionCall part             {"tool_calls":[{"index":i,"id":"call_<i>","type":"function",
//	                               "function":{"name","arguments":<whole args>}}]}
//	finishReason                  {} with finish_reason (see FromGemini)
//	usageMetadata                 remembered (each event's counts are the
//	                              running totals); reported by Finish
//	{"error":{…}}                 data: {"error":{…}} (as in ParseError)
//	promptFeedback.blockReason    {} with finish_reason "content_filter"
//
// Gemini sends each function call whole, so its arguments arrive in the
// chunk that names it, as Mistral and Groq do; i counts calls from 0 so
// ids match FromGemini's. Every chunk has the same id ("chatcmpl-" plus
// responseId), object, created and model, and is compact JSON. Text is
// copied through as the JSON string Gemini sent, without unquoting.
//
// A Stream is not safe for concurrent use; create one per response.
type Stream struct {
	model        string
	includeUsage bool

	out    chat.ChunkWriter
	nTools int
	usage  usageMetadata
	done   bool // a finishReason was seen
	failed bool // an error event was seen

	// Per-event decoding state, reused so that a text event allocates
	// nothing (see event.go).
	ev   event
	data []byte // the payload being parsed
	bb   bytes.Buffer
	dec  jsontext.Decoder
}

// NewStream returns a Stream whose chunks name model. When includeUsage is
// true (the client sent stream_options.include_usage), Finish appends
// OpenAI's final usage chunk before [DONE]; Usage reports the counts
// either way.
func NewStream(model string, includeUsage bool) *Stream {
	return &Stream{model: model, includeUsage: includeUsage}
}

// Usage returns the usage of the latest event's usageMetadata. After a cut
// stream it is the partial usage to record.
func (s *Stream) Usage() Usage { return s.usage.usage() }

// Done reports whether a finishReason has been seen, i.e. the answer is
// complete. A stream that ends without one was cut short.
func (s *Stream) Done() bool { return s.done }

// Failed reports whether an error payload has been seen.
func (s *Stream) Failed() bool { return s.failed }

// Event translates one SSE data payload of an alt=sse stream, appending
// zero or more complete OpenAI SSE events ("data: {…}\n\n") to dst, and
// returns the extended buffer. Data that is not a JSON object is an error,
// and nothing is appended; so is a second error payload. Events after an
// error only update nothing. data is not retained.
func (s *Stream) Event(dst, data []byte) ([]byte, error) {
	if s.failed {
		return dst, nil
	}
	err := s.parse(data)
	s.data = nil
	if err != nil {
		return dst, fmt.Errorf("gemini: decode stream event: %w", err)
	}
	ev := &s.ev
	if ev.err != nil {
		s.failed = true
		return appendErrorEvent(dst, ev.err.apiError(200)), nil
	}
	if ev.hasUsage {
		s.usage = ev.usage
	}
	if s.done {
		return dst, nil // a trailing usage-only event
	}
	if !s.out.Started() {
		s.start(ev.responseID)
		dst = s.out.Role(dst)
	}
	if !ev.hasCandidate {
		if ev.blocked {
			s.done = true
			dst = s.out.Finish(dst, "content_filter")
		}
		return dst, nil
	}
	for i := range ev.parts {
		p := &ev.parts[i]
		switch {
		case p.call:
			args, err := compactArgs(p.args)
			if err != nil {
				return dst, fmt.Errorf("gemini: decode stream event: functionCall args: %w", err)
			}
			// The whole call in one chunk, as Mistral and Groq send it.
			dst = s.out.Open(dst)
			dst = append(dst, `{"tool_calls":[{"index":`...)
			dst = strconv.AppendInt(dst, int64(s.nTools), 10)
			dst = append(dst, `,"id":"`...)
			dst = append(dst, callID(s.nTools)...)
			dst = append(dst, `","type":"function","function":{"name":`...)
			dst, _ = jsontext.AppendQuote(dst, p.name)
			dst = append(dst, `,"arguments":`...)
			dst, _ = jsontext.AppendQuote(dst, args)
			dst = append(dst, "}}]}"...)
			dst = s.out.Close(dst, "")
			s.nTools++
		case len(p.text) > 2 && jsontext.Value(p.text).Kind() == '"':
			if p.thought {
				dst = s.out.Reasoning(dst, p.text)
			} else {
				dst = s.out.Content(dst, p.text)
			}
		}
	}
	if len(ev.finishReason) > 0 {
		s.done = true
		dst = s.out.Finish(dst, finishReason(string(ev.finishReason), s.nTools > 0))
	}
	return dst, nil
}

// Finish appends what ends the OpenAI stream once the Gemini stream has
// ended (Gemini sends no sentinel): the usage chunk ("choices":[]) when
// include_usage was asked for, then data: [DONE]. After an error payload
// it appends nothing, as OpenAI ends a failed stream without [DONE]. The
// caller checks Done to tell a complete answer from a cut one.
func (s *Stream) Finish(dst []byte) []byte {
	if s.failed {
		return dst
	}
	if s.includeUsage {
		if !s.out.Started() {
			s.start(nil)
		}
		dst = s.out.Usage(dst, toOpenAIUsage(s.usage.usage()))
	}
	return s.out.Done(dst)
}

// start fixes the chunks' id ("chatcmpl-" plus responseID), created and
// model.
func (s *Stream) start(responseID []byte) {
	s.out.Start(responseID, s.model, now().Unix())
}
