package openai

import (
	"fmt"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/jsonlex"
)

// This file is the byte walker behind ScanChunk and ScanResponse. They run
// on every streamed event and every non-streamed answer, where the
// jsontext.Decoder they used cost more per token (~5% of the gateway's
// CPU) than the few fields they read. The walker checks its input exactly
// as strictly as that decoder, which getDecoder resets without options:
// RFC 8259 grammar, whitespace, numbers and literals, strings with valid
// UTF-8, no control characters, valid escapes and \u surrogates only in
// pairs, no duplicate member names in any object (names compared
// unescaped), and at most maxDepth levels of nesting. The differential
// tests and fuzzers (walk_test.go) check it against the decoder-based
// scanners it replaced.

// maxDepth is how deeply objects and arrays may nest: jsontext's decoder
// stops with an error on opening the 10001st level, and so does the walker.
const maxDepth = 10000

// maxLinearNames is how many names an object may have before the
// duplicate check moves from a linear search to a map, as jsontext's does,
// so that an object with very many members is not quadratic.
const maxLinearNames = 64

// inlineNames is how many member names of the open objects the walker
// keeps without allocating; a chunk or answer has about 20.
const inlineNames = 32

// objKind says which members of an object the walker reads.
type objKind uint8

const (
	objOther             objKind = iota // none
	objChunk                            // "usage", "choices", "error"
	objResponse                         // "usage", "model"
	objUsage                            // the token counts and details
	objPromptDetails                    // "cached_tokens"
	objCompletionDetails                // "reasoning_tokens"
	objChoice                           // "finish_reason"
)

// target is a member the walker reads.
type target uint8

const (
	fieldNone target = iota
	fieldUsage
	fieldChoices
	fieldError
	fieldModel
	fieldPromptTokens
	fieldCompletionTokens
	fieldTotalTokens
	fieldPromptDetails
	fieldCompletionDetails
	fieldCachedTokens
	fieldReasoningTokens
	fieldFinishReason
)

// lookup returns which target the member name of an object of kind k is.
func lookup(k objKind, name []byte) target {
	switch k {
	case objChunk:
		switch string(name) {
		case "usage":
			return fieldUsage
		case "choices":
			return fieldChoices
		case "error":
			return fieldError
		}
	case objResponse:
		switch string(name) {
		case "usage":
			return fieldUsage
		case "model":
			return fieldModel
		}
	case objUsage:
		switch string(name) {
		case "prompt_tokens":
			return fieldPromptTokens
		case "completion_tokens":
			return fieldCompletionTokens
		case "total_tokens":
			return fieldTotalTokens
		case "prompt_tokens_details":
			return fieldPromptDetails
		case "completion_tokens_details":
			return fieldCompletionDetails
		}
	case objPromptDetails:
		if string(name) == "cached_tokens" {
			return fieldCachedTokens
		}
	case objCompletionDetails:
		if string(name) == "reasoning_tokens" {
			return fieldReasoningTokens
		}
	case objChoice:
		if string(name) == "finish_reason" {
			return fieldFinishReason
		}
	}
	return fieldNone
}

// lookupEscaped is lookup for the contents of a valid quoted name with
// escapes, such as "\u0075sage". It is apart so that the buffer is only on
// the stack of the rare names that need it.
func lookupEscaped(k objKind, raw []byte) target {
	var buf [32]byte // longer than any name lookup knows
	name, ok := unquoteTo(buf[:], raw)
	if !ok {
		return fieldNone
	}
	return lookup(k, name)
}

// nameRef is a member name of an open object: the offsets in the input of
// its opening quote (complemented when the name has escapes) and of the
// byte after its closing quote, and the fingerprint of its unquoted form.
type nameRef struct {
	lo, hi int
	fp     uint64
}

// errKind is the class of the walker's first error.
type errKind uint8

const (
	errSyntax    errKind = iota // at errAt, expected errWant
	errString                   // a bad string at errAt
	errNumber                   // a bad number at errAt
	errLiteral                  // a bad literal at errAt, expected errWant
	errDepth                    // too deep at errAt
	errDuplicate                // the name b[errAt:errEnd] repeats
	errCount                    // the token count b[errAt:errEnd]
	errNotObject                // the top level at errAt is not an object
	errTrailing                 // data after the top-level value at errAt
)

// walker is the state of one scan. Its methods take the offset in b of
// what they walk, which follows any whitespace, and return the offset
// after it, or -1 on the first error, which ends the walk. The offset is
// passed rather than kept in the walker so that it stays in a register.
type walker struct {
	b     []byte
	depth int // objects and arrays open

	// The member names of the open objects, innermost last: the first
	// inlineNames in inline, the others in spill.
	inline [inlineNames]nameRef
	spill  *[]nameRef // from spillPool, once inline is full
	nnames int

	// What the scan reads.
	usage     Usage
	hasUsage  bool
	noChoices bool
	isError   bool
	finish    string
	model     string

	// The first error.
	errKind errKind
	errAt   int
	errEnd  int
	errWant string
}

// walk walks the whole input, which must be one object of kind k with
// nothing but whitespace around it, and reports whether it is well-formed.
func (w *walker) walk(k objKind) bool {
	b := w.b
	i := jsonlex.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		w.errKind, w.errAt = errNotObject, i
		return false
	}
	if i = w.object(i, k); i < 0 {
		return false
	}
	if i = jsonlex.SkipSpace(b, i); i < len(b) {
		w.errKind, w.errAt = errTrailing, i
		return false
	}
	return true
}

// fail records a syntax error at b[at], where want should have been.
func (w *walker) fail(at int, want string) int {
	w.errKind, w.errAt, w.errWant = errSyntax, at, want
	return -1
}

// value walks the value at b[i:] without reading anything from it.
func (w *walker) value(i int) int {
	b := w.b
	if i >= len(b) {
		return w.fail(i, "a value")
	}
	switch b[i] {
	case '{':
		return w.object(i, objOther)
	case '[':
		return w.array(i)
	case '"':
		end, _ := jsonlex.String(b, i)
		if end < 0 {
			w.errKind, w.errAt = errString, ^end
			return -1
		}
		return end
	case 't':
		return w.literal(i, "true")
	case 'f':
		return w.literal(i, "false")
	case 'n':
		return w.literal(i, "null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return w.number(i)
	}
	return w.fail(i, "a value")
}

func (w *walker) number(i int) int {
	end := jsonlex.Number(w.b, i)
	if end < 0 {
		w.errKind, w.errAt = errNumber, ^end
		return -1
	}
	return end
}

// literal consumes lit (true, false or null) at b[i:]. What follows it is
// checked by the caller, as for numbers: "nullx" fails on the x.
func (w *walker) literal(i int, lit string) int {
	b := w.b
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	n := 0
	for i+n < len(b) && b[i+n] == lit[n] {
		n++
	}
	w.errKind, w.errAt, w.errWant = errLiteral, i+n, lit
	return -1
}

// object walks the object at b[i:], reading the members that kind k names.
func (w *walker) object(i int, k objKind) int {
	if w.depth == maxDepth {
		w.errKind, w.errAt = errDepth, i
		return -1
	}
	w.depth++
	b := w.b
	i = jsonlex.SkipSpace(b, i+1) // '{'
	if i < len(b) && b[i] == '}' {
		w.depth--
		return i + 1
	}
	first := w.nnames // this object's names are from here
	var set map[string]struct{}
	for {
		if i >= len(b) || b[i] != '"' {
			return w.fail(i, "a member name (a string)")
		}
		end, verbatim := jsonlex.String(b, i)
		if end < 0 {
			w.errKind, w.errAt = errString, ^end
			return -1
		}
		if set == nil {
			r := nameRef{i, end, 0}
			if verbatim {
				r.fp = fingerprint(b[i+1 : end-1])
			} else {
				r.lo, r.fp = ^i, escapedFingerprint(b[i+1:end-1])
			}
			if w.seen(first, r) {
				w.errKind, w.errAt, w.errEnd = errDuplicate, i, end
				return -1
			}
			if w.nnames-first < maxLinearNames {
				w.push(r)
			} else {
				set = w.nameSet(first)
				w.nnames = first
			}
		}
		if set != nil && !addName(set, b[i+1:end-1], verbatim) {
			w.errKind, w.errAt, w.errEnd = errDuplicate, i, end
			return -1
		}
		f := fieldNone
		if k != objOther {
			if verbatim {
				f = lookup(k, b[i+1:end-1])
			} else {
				f = lookupEscaped(k, b[i+1:end-1])
			}
		}
		if i = jsonlex.SkipSpace(b, end); i >= len(b) || b[i] != ':' {
			return w.fail(i, "':' after a member name")
		}
		i = jsonlex.SkipSpace(b, i+1)
		if f == fieldNone {
			i = w.value(i)
		} else {
			i = w.member(i, f)
		}
		if i < 0 {
			return -1
		}
		if i = jsonlex.SkipSpace(b, i); i >= len(b) {
			return w.fail(i, "',' or '}' after an object member")
		}
		switch b[i] {
		case ',':
			i = jsonlex.SkipSpace(b, i+1)
		case '}':
			w.depth--
			w.nnames = first
			return i + 1
		default:
			return w.fail(i, "',' or '}' after an object member")
		}
	}
}

// member walks the value at b[i:] of the member f, reading it.
func (w *walker) member(i int, f target) int {
	b := w.b
	if i >= len(b) {
		return w.value(i)
	}
	switch f {
	case fieldUsage:
		if b[i] == '{' {
			w.hasUsage = true
			return w.object(i, objUsage)
		}
	case fieldChoices:
		if b[i] == '[' {
			return w.choices(i)
		}
	case fieldError:
		w.isError = true
	case fieldModel:
		if b[i] == '"' {
			end, verbatim := jsonlex.String(b, i)
			if end < 0 {
				break // value reports it
			}
			if verbatim {
				w.model = string(b[i+1 : end-1])
			} else {
				w.model = unquoteString(b[i+1 : end-1])
			}
			return end
		}
	case fieldFinishReason:
		if b[i] == '"' {
			end, verbatim := jsonlex.String(b, i)
			if end < 0 {
				break
			}
			if verbatim {
				w.finish = finishReason(b[i+1 : end-1])
			} else {
				w.finish = escapedFinishReason(b[i+1 : end-1])
			}
			return end
		}
	case fieldPromptDetails:
		if b[i] == '{' {
			return w.object(i, objPromptDetails)
		}
	case fieldCompletionDetails:
		if b[i] == '{' {
			return w.object(i, objCompletionDetails)
		}
	case fieldPromptTokens:
		return w.count(i, &w.usage.PromptTokens)
	case fieldCompletionTokens:
		return w.count(i, &w.usage.CompletionTokens)
	case fieldTotalTokens:
		return w.count(i, &w.usage.TotalTokens)
	case fieldCachedTokens:
		return w.count(i, &w.usage.CachedTokens)
	case fieldReasoningTokens:
		return w.count(i, &w.usage.ReasoningTokens)
	}
	return w.value(i)
}

// count reads the token count at b[i:] into n: an integer-valued number
// (see int64Value); null leaves n as it is and other values are skipped.
func (w *walker) count(i int, n *int64) int {
	b := w.b
	if c := b[i]; c != '-' && (c < '0' || c > '9') {
		return w.value(i)
	}
	end := w.number(i)
	if end < 0 {
		return -1
	}
	x, ok := int64Value(b[i:end])
	if !ok {
		w.errKind, w.errAt, w.errEnd = errCount, i, end
		return -1
	}
	*n = x
	return end
}

// choices walks the choices array at b[i:], noting whether it is empty and
// reading the first choice if it is an object.
func (w *walker) choices(i int) int {
	if w.depth == maxDepth {
		w.errKind, w.errAt = errDepth, i
		return -1
	}
	w.depth++
	b := w.b
	i = jsonlex.SkipSpace(b, i+1) // '['
	if i < len(b) && b[i] == ']' {
		w.depth--
		w.noChoices = true
		return i + 1
	}
	if i < len(b) && b[i] == '{' {
		i = w.object(i, objChoice)
	} else {
		i = w.value(i)
	}
	return w.arrayRest(i)
}

func (w *walker) array(i int) int {
	if w.depth == maxDepth {
		w.errKind, w.errAt = errDepth, i
		return -1
	}
	w.depth++
	b := w.b
	i = jsonlex.SkipSpace(b, i+1) // '['
	if i < len(b) && b[i] == ']' {
		w.depth--
		return i + 1
	}
	return w.arrayRest(w.value(i))
}

// arrayRest walks the rest of an array after an element that ends before
// b[i] (-1 if it was bad).
func (w *walker) arrayRest(i int) int {
	b := w.b
	for {
		if i < 0 {
			return -1
		}
		if i = jsonlex.SkipSpace(b, i); i >= len(b) {
			return w.fail(i, "',' or ']' after an array element")
		}
		switch b[i] {
		case ',':
			i = w.value(jsonlex.SkipSpace(b, i+1))
		case ']':
			w.depth--
			return i + 1
		default:
			return w.fail(i, "',' or ']' after an array element")
		}
	}
}

// spillPool holds the walkers' spill slices, so that a body whose open
// objects have more than inlineNames names, such as an OpenAI Responses
// event, does not make the walker allocate either.
var spillPool = sync.Pool{New: func() any { return new([]nameRef) }}

// release returns the walker's spill slice to spillPool.
func (w *walker) release() {
	if w.spill != nil && cap(*w.spill) <= 1<<12 {
		*w.spill = (*w.spill)[:0]
		spillPool.Put(w.spill)
	}
	w.spill = nil
}

// name returns the ith name of the open objects.
func (w *walker) name(i int) nameRef {
	if i < inlineNames {
		return w.inline[i]
	}
	return (*w.spill)[i-inlineNames]
}

// push adds r to the names of the open objects.
func (w *walker) push(r nameRef) {
	if n := w.nnames; n < inlineNames {
		w.inline[n] = r
	} else {
		w.pushSpill(n-inlineNames, r)
	}
	w.nnames++
}

func (w *walker) pushSpill(k int, r nameRef) {
	if w.spill == nil {
		w.spill = spillPool.Get().(*[]nameRef)
	}
	if s := *w.spill; k < len(s) {
		s[k] = r
	} else {
		*w.spill = append(s, r)
	}
}

// seen reports whether the name r is among the names of the innermost
// open object, which start at the first-th.
func (w *walker) seen(first int, r nameRef) bool {
	if n := w.nnames; n <= inlineNames {
		for _, q := range w.inline[first:n] {
			if q.fp == r.fp && w.same(q, r) {
				return true
			}
		}
		return false
	}
	for j := first; j < w.nnames; j++ {
		if q := w.name(j); q.fp == r.fp && w.same(q, r) {
			return true
		}
	}
	return false
}

// same reports whether the names q and r stand for the same text.
func (w *walker) same(q, r nameRef) bool {
	b := w.b
	if q.lo >= 0 && r.lo >= 0 {
		return string(b[q.lo+1:q.hi-1]) == string(b[r.lo+1:r.hi-1])
	}
	return nameEqual(b[max(q.lo, ^q.lo)+1:q.hi-1], b[max(r.lo, ^r.lo)+1:r.hi-1])
}

// nameSet returns the unquoted names of the innermost open object, which
// start at the first-th, as a set. It allocates, as jsontext does for an
// object with more than 64 names.
func (w *walker) nameSet(first int) map[string]struct{} {
	set := make(map[string]struct{}, 2*maxLinearNames)
	for j := first; j < w.nnames; j++ {
		r := w.name(j)
		set[unquoteString(w.b[max(r.lo, ^r.lo)+1:r.hi-1])] = struct{}{}
	}
	return set
}

// addName adds the contents raw of a quoted name to set and reports whether
// it was not there yet.
func addName(set map[string]struct{}, raw []byte, verbatim bool) bool {
	if verbatim {
		if _, ok := set[string(raw)]; ok {
			return false
		}
		set[string(raw)] = struct{}{}
		return true
	}
	name := unquoteString(raw)
	if _, ok := set[name]; ok {
		return false
	}
	set[name] = struct{}{}
	return true
}

// err describes the walker's first error for the operation op, such as
// "scan chunk": what is wrong, and at which byte of the input.
func (w *walker) err(op string) error {
	b, at := w.b, w.errAt
	switch w.errKind {
	case errDuplicate:
		return fmt.Errorf("openai: %s: invalid JSON at byte %d: %w %s", op, at, jsontext.ErrDuplicateName, b[at:w.errEnd])
	case errCount:
		v := b[at:w.errEnd]
		if len(v) > 40 {
			v = append(v[:40:40], "..."...)
		}
		return fmt.Errorf("openai: %s: %w: %s at byte %d", op, errTokenCount, v, at)
	case errTrailing:
		return fmt.Errorf("openai: %s: invalid JSON at byte %d: %w", op, at, errTrailingData)
	case errNotObject:
		if at >= len(b) {
			if at == 0 {
				return fmt.Errorf("openai: %s: empty input, expected a JSON object", op)
			}
			return fmt.Errorf("openai: %s: only whitespace, expected a JSON object", op)
		}
		return fmt.Errorf("openai: %s: expected a JSON object at byte %d, got %s", op, at, what(b[at:]))
	case errDepth:
		return fmt.Errorf("openai: %s: invalid JSON at byte %d: nested more than %d levels deep", op, at, maxDepth)
	}
	var msg string
	switch {
	case at >= len(b):
		msg = "unexpected end of input"
		switch w.errKind {
		case errString:
			msg += " in a string"
		case errNumber:
			msg += " in a number"
		case errLiteral:
			msg += " in the literal " + w.errWant
		default:
			msg += ", expected " + w.errWant
		}
	case w.errKind == errString:
		msg = stringError(b[at:])
	case w.errKind == errNumber:
		msg = "invalid character " + quoteChar(b[at:]) + " in a number, expected a digit"
	case w.errKind == errLiteral:
		msg = "invalid character " + quoteChar(b[at:]) + " in the literal " + w.errWant
	default:
		msg = "invalid character " + quoteChar(b[at:]) + ", expected " + w.errWant
	}
	return fmt.Errorf("openai: %s: invalid JSON at byte %d: %s", op, at, msg)
}

// stringError says what is wrong with the string byte that begins b.
func stringError(b []byte) string {
	switch c := b[0]; {
	case c == '\\':
		if len(b) >= 6 && b[1] == 'u' {
			if r, ok := jsonlex.Hex4(b[2:]); ok && utf16.IsSurrogate(r) {
				return fmt.Sprintf("unpaired UTF-16 surrogate %s in a string", b[:6])
			}
		}
		n := min(len(b), 6)
		return fmt.Sprintf("invalid escape %q in a string", b[:n])
	case c < ' ':
		return fmt.Sprintf("control character %q in a string (it must be escaped)", b[:1])
	}
	return fmt.Sprintf("invalid UTF-8 byte %#x in a string", b[0])
}

// quoteChar quotes the character that begins b for an error message.
func quoteChar(b []byte) string {
	_, n := utf8.DecodeRune(b)
	return fmt.Sprintf("%q", b[:n])
}

// what names the kind of JSON value that begins b, or quotes its first
// character if none does.
func what(b []byte) string {
	switch b[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	}
	return "the character " + quoteChar(b)
}
