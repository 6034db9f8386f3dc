package gemini

import (
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
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

	prefix []byte // `data: {"id":…,"model":…`
	nTools int
	usage  usageMetadata
	done   bool // a finishReason was seen
	failed bool // an error event was seen
	r      response
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
	s.r = response{}
	if err := json.Unmarshal(data, &s.r); err != nil {
		return dst, fmt.Errorf("gemini: decode stream event: %w", err)
	}
	r := &s.r
	if r.Error != nil {
		s.failed = true
		return appendErrorEvent(dst, r.Error.apiError(200)), nil
	}
	if r.UsageMetadata != nil {
		s.usage = *r.UsageMetadata
	}
	if s.done {
		return dst, nil // a trailing usage-only event
	}
	if s.prefix == nil {
		s.start(r.ResponseID)
		dst = s.open(dst)
		dst = append(dst, `{"role":"assistant","content":""}`...)
		dst = s.close(dst, "")
	}
	if len(r.Candidates) == 0 {
		if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
			s.done = true
			dst = s.open(dst)
			dst = append(dst, "{}"...)
			dst = s.close(dst, "content_filter")
		}
		return dst, nil
	}
	c := &r.Candidates[0]
	for _, p := range c.Content.Parts {
		switch {
		case p.FunctionCall != nil:
			args, err := compactArgs(p.FunctionCall.Args)
			if err != nil {
				return dst, fmt.Errorf("gemini: decode stream event: functionCall args: %w", err)
			}
			dst = s.open(dst)
			dst = append(dst, `{"tool_calls":[{"index":`...)
			dst = strconv.AppendInt(dst, int64(s.nTools), 10)
			dst = append(dst, `,"id":"`...)
			dst = append(dst, callID(s.nTools)...)
			dst = append(dst, `","type":"function","function":{"name":`...)
			dst, _ = jsontext.AppendQuote(dst, p.FunctionCall.Name)
			dst = append(dst, `,"arguments":`...)
			dst, _ = jsontext.AppendQuote(dst, args)
			dst = append(dst, "}}]}"...)
			dst = s.close(dst, "")
			s.nTools++
		case len(p.Text) > 2 && p.Text.Kind() == '"':
			dst = s.open(dst)
			if p.Thought {
				dst = append(dst, `{"reasoning_content":`...)
			} else {
				dst = append(dst, `{"content":`...)
			}
			dst = append(dst, p.Text...)
			dst = append(dst, '}')
			dst = s.close(dst, "")
		}
	}
	if c.FinishReason != "" {
		s.done = true
		dst = s.open(dst)
		dst = append(dst, "{}"...)
		dst = s.close(dst, finishReason(c.FinishReason, s.nTools > 0))
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
		dst = s.appendUsage(dst)
	}
	return append(dst, "data: [DONE]\n\n"...)
}

// start builds the chunk prefix from the response id.
func (s *Stream) start(responseID string) {
	p := append(s.prefix[:0], `data: {"id":`...)
	p, _ = jsontext.AppendQuote(p, "chatcmpl-"+responseID)
	p = append(p, `,"object":"chat.completion.chunk","created":`...)
	p = strconv.AppendInt(p, now().Unix(), 10)
	p = append(p, `,"model":`...)
	p, _ = jsontext.AppendQuote(p, s.model)
	s.prefix = p
}

// open appends the chunk up to the choice's delta.
func (s *Stream) open(dst []byte) []byte {
	dst = append(dst, s.prefix...)
	return append(dst, `,"choices":[{"index":0,"delta":`...)
}

// close ends a chunk opened by open.
func (s *Stream) close(dst []byte, finish string) []byte {
	dst = append(dst, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = append(dst, finish...)
		dst = append(dst, '"')
	}
	return append(dst, "}]}\n\n"...)
}

func (s *Stream) appendUsage(dst []byte) []byte {
	if s.prefix == nil {
		s.start("")
	}
	u := s.usage.usage()
	dst = append(dst, s.prefix...)
	dst = append(dst, `,"choices":[],"usage":{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, u.PromptTokens, 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, u.CompletionTokens, 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, u.PromptTokens+u.CompletionTokens, 10)
	dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, u.CachedTokens, 10)
	dst = append(dst, `},"completion_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, u.ReasoningTokens, 10)
	return append(dst, "}}}\n\n"...)
}
