package usage

import (
	"bytes"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/tiktoken-go/tokenizer"
)

const (
	// perMessageTokens is what each chat message costs beyond its text (role
	// and delimiters), as in OpenAI's counting guide; replyPrimingTokens
	// primes the assistant's answer.
	perMessageTokens   = 4
	replyPrimingTokens = 3

	// maxTokenizedText is the prompt text size above which the tokenizer
	// would cost more than the estimate is worth: len(text)/4 is used
	// instead. The tokenizer runs at a few MB/s (about 280µs for 2 KB of
	// chat, BenchmarkEstimateInput), far above the gateway's own overhead,
	// and the estimate is reconciled with the real usage after the call.
	maxTokenizedText = 4 << 10
	// maxPooledText bounds the text buffer kept for reuse.
	maxPooledText = 256 << 10
)

// o200k is loaded on first use: building the codec costs tens of
// milliseconds and a large vocabulary that a gateway without token limits
// never needs. The codec is safe for concurrent use.
var o200k = sync.OnceValue(func() tokenizer.Codec {
	c, err := tokenizer.Get(tokenizer.O200kBase)
	if err != nil {
		panic(err) // compiled-in vocabulary: cannot fail at runtime
	}
	return c
})

// CountText counts the tokens of s with the o200k_base encoding.
func CountText(s string) int64 {
	if s == "" {
		return 0
	}
	n, err := o200k().Count(s)
	if err != nil {
		return int64(len(s) / 4)
	}
	return int64(n)
}

// estimator is reused across calls so that estimating a body allocates
// little beyond the tokenizer's own work.
type estimator struct {
	rd       bytes.Reader
	dec      *jsontext.Decoder
	text     []byte // the prompt's text, one value per line
	name     []byte // scratch for unquoted object names
	messages int64
}

var estimators = sync.Pool{New: func() any {
	return &estimator{dec: jsontext.NewDecoder(bytes.NewReader(nil))}
}}

// promptKeys are the top-level members of OpenAI chat/responses/embeddings
// and Anthropic messages bodies that are sent to the model as input.
var promptKeys = map[string]bool{"messages": true, "system": true, "input": true, "prompt": true, "tools": true}

// EstimateInput estimates the prompt tokens of an OpenAI chat, responses or
// embeddings body or an Anthropic messages body: the text of the string
// values under messages, system, input, prompt and tools, plus a few tokens
// per message. It is an estimate for rate limiting, not billing: the
// provider's reported usage is what is recorded. A body that is not JSON is
// estimated at four bytes a token.
func EstimateInput(body []byte) int64 {
	e := estimators.Get().(*estimator)
	defer func() {
		e.rd.Reset(nil)
		e.dec.Reset(&e.rd)
		if cap(e.text) <= maxPooledText { // do not pin a huge buffer
			estimators.Put(e)
		}
	}()
	e.text, e.messages = e.text[:0], 0
	e.rd.Reset(body)
	e.dec.Reset(&e.rd)
	if err := e.walkTop(); err != nil {
		return int64(len(body) / 4)
	}
	n := e.messages * perMessageTokens
	if e.messages > 0 {
		n += replyPrimingTokens
	}
	// Values are joined by newlines, which tokenise about like the
	// delimiters the provider puts between parts; the last one is dropped.
	text := bytes.TrimSuffix(e.text, []byte{'\n'})
	if len(text) > maxTokenizedText {
		return n + int64(len(text)/4)
	}
	return n + CountText(string(text))
}

func (e *estimator) walkTop() error {
	if tok, err := e.dec.ReadToken(); err != nil {
		return err
	} else if tok.Kind() != '{' {
		return errNotObject
	}
	for e.dec.PeekKind() == '"' {
		v, err := e.dec.ReadValue()
		if err != nil {
			return err
		}
		if e.name, err = jsontext.AppendUnquote(e.name[:0], v); err != nil {
			return err
		}
		key := string(e.name) // no allocation: used only for the map lookup
		if !promptKeys[key] {
			if err := e.dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		countItems := key == "messages" || key == "input"
		if err := e.walk(key == "tools", countItems); err != nil {
			return err
		}
	}
	_, err := e.dec.ReadToken() // '}'
	return err
}

// skipKeys hold structure or binary payloads, not text the model reads as
// tokens: counting a base64 image as text would overestimate a hundredfold.
var skipKeys = map[string]bool{
	"type": true, "role": true, "id": true, "tool_call_id": true, "tool_use_id": true,
	"media_type": true, "detail": true, "data": true, "file_data": true,
	"image_url": true, "url": true, "cache_control": true, "file_id": true, "format": true,
}

// walk reads one value, appending its strings to e.text. Members named in
// skipKeys are skipped, except inside tools, where every string and object
// name counts (they are the schema the model reads); countItems counts the
// objects of a top-level messages/input array as messages.
func (e *estimator) walk(inTools, countItems bool) error {
	switch e.dec.PeekKind() {
	case '"':
		v, err := e.dec.ReadValue()
		if err != nil {
			return err
		}
		text, err := jsontext.AppendUnquote(e.text, v)
		if err != nil {
			return err
		}
		e.text = append(text, '\n')
		return nil
	case '{':
		if _, err := e.dec.ReadToken(); err != nil {
			return err
		}
		for e.dec.PeekKind() == '"' {
			v, err := e.dec.ReadValue()
			if err != nil {
				return err
			}
			if e.name, err = jsontext.AppendUnquote(e.name[:0], v); err != nil {
				return err
			}
			if inTools {
				e.text = append(append(e.text, e.name...), '\n')
			} else if skipKeys[string(e.name)] {
				if err := e.dec.SkipValue(); err != nil {
					return err
				}
				continue
			}
			if err := e.walk(inTools, false); err != nil {
				return err
			}
		}
		_, err := e.dec.ReadToken()
		return err
	case '[':
		if _, err := e.dec.ReadToken(); err != nil {
			return err
		}
		for e.dec.PeekKind() != ']' {
			if countItems && e.dec.PeekKind() == '{' {
				e.messages++
			}
			if err := e.walk(inTools, false); err != nil {
				return err
			}
		}
		_, err := e.dec.ReadToken()
		return err
	default:
		return e.dec.SkipValue()
	}
}
