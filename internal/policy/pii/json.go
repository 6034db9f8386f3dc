package pii

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
)

// textKeys are the member names whose string values (directly, or inside
// arrays, at any depth of arrays) carry conversation text.
var textKeys = map[string]bool{
	"content":      true,
	"text":         true,
	"system":       true,
	"input":        true,
	"prompt":       true,
	"arguments":    true,
	"partial_json": true,
}

type jsonFrame struct {
	obj  bool
	text bool // strings here are conversation text (for objects: the current member)
}

type jsonState struct {
	dec     *jsontext.Decoder
	rd      bytes.Reader
	scratch []byte
	stack   []jsonFrame
}

var jsonPool = sync.Pool{New: func() any {
	st := &jsonState{stack: make([]jsonFrame, 0, 16)}
	st.dec = jsontext.NewDecoder(&st.rd)
	return st
}}

// JSON rewrites the conversation-text strings of a JSON request or response
// body: string values of members named content, text, system, input,
// prompt, arguments or partial_json, and strings in (nested) arrays under
// them. Objects under those members are not text themselves: only their own
// text-named members are rewritten (so tool_use "input" objects keep their
// arguments, but a nested {"text": ...} is redacted). Other members (model,
// role, ids, urls, base64 data...) are never touched.
//
// Only changed strings are re-encoded; every other byte is kept as is. When
// nothing is rewritten the input slice itself is returned. Invalid JSON is
// an error.
func (r *Redactor) JSON(body []byte) ([]byte, []Finding, error) {
	if r == nil {
		return body, nil, nil
	}
	st := jsonPool.Get().(*jsonState)
	defer func() {
		st.rd.Reset(nil)
		st.dec.Reset(&st.rd)
		st.stack = st.stack[:0]
		if cap(st.scratch) <= 64<<10 {
			jsonPool.Put(st)
		}
	}()
	st.rd.Reset(body)
	st.dec.Reset(&st.rd)
	dec := st.dec

	var acc accum
	var out []byte
	last := 0 // bytes of body already copied to out
	seen := false
	for {
		kind := dec.PeekKind()
		seen = seen || kind != 0
		switch kind {
		case '{', '[':
			if _, err := dec.ReadToken(); err != nil {
				return nil, nil, jsonErr(err)
			}
			st.stack = append(st.stack, jsonFrame{obj: kind == '{', text: kind == '[' && st.inText()})
		case '}', ']':
			if _, err := dec.ReadToken(); err != nil {
				return nil, nil, jsonErr(err)
			}
			st.stack = st.stack[:len(st.stack)-1]
		case '"':
			isName := false
			if n := len(st.stack); n > 0 && st.stack[n-1].obj {
				_, length := dec.StackIndex(dec.StackDepth())
				isName = length%2 == 0
			}
			raw, err := dec.ReadValue()
			if err != nil {
				return nil, nil, jsonErr(err)
			}
			if isName {
				name, err := st.unquote(raw)
				if err != nil {
					return nil, nil, jsonErr(err)
				}
				st.stack[len(st.stack)-1].text = textKeys[name]
				continue
			}
			if !st.inText() {
				continue
			}
			s, err := st.unquote(raw)
			if err != nil {
				return nil, nil, jsonErr(err)
			}
			red, changed := r.apply(s, &acc)
			if !changed {
				continue
			}
			end := int(dec.InputOffset())
			start := end - len(raw)
			if out == nil {
				out = make([]byte, 0, len(body)+64)
			}
			out = append(out, body[last:start]...)
			if out, err = jsontext.AppendQuote(out, red); err != nil {
				return nil, nil, jsonErr(err)
			}
			last = end
		case 0:
			if _, err := dec.ReadToken(); err != io.EOF || !seen {
				return nil, nil, jsonErr(err)
			}
			if out == nil {
				return body, acc.findings(r), nil
			}
			return append(out, body[last:]...), acc.findings(r), nil
		default:
			if err := dec.SkipValue(); err != nil {
				return nil, nil, jsonErr(err)
			}
		}
	}
}

func jsonErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("pii: invalid JSON body: %w", err)
}

func (st *jsonState) inText() bool {
	n := len(st.stack)
	return n > 0 && st.stack[n-1].text
}

// unquote returns the decoded content of a raw JSON string. The result may
// alias st.scratch or raw and is only valid until the next decoder read: it
// is never retained (apply copies whatever it keeps).
func (st *jsonState) unquote(raw []byte) (string, error) {
	if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 {
		b := raw[1 : len(raw)-1]
		return unsafe.String(unsafe.SliceData(b), len(b)), nil
	}
	var err error
	st.scratch, err = jsontext.AppendUnquote(st.scratch[:0], raw)
	if err != nil {
		return "", err
	}
	return unsafe.String(unsafe.SliceData(st.scratch), len(st.scratch)), nil
}
