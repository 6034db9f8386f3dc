// Package templates checks and renders versioned prompt templates: a
// template is a JSON array of OpenAI chat messages whose text holds
// {{variable}} placeholders. A chat request refers to one with a "template"
// member; Reference reads it, the caller looks the template up (package
// store) and renders it, and Expand puts the rendered messages in front of
// the request's own.
//
// Placeholders are {{name}} with name matching [A-Za-z_][A-Za-z0-9_]* and
// optional spaces or tabs inside the braces. They are recognised in a
// message's "content" when it is a string, and in the "text" of each part
// when it is an array of parts; everything else is copied as it is. Every
// "{{" opens a placeholder, and substitution is a single pass: a value that
// contains "{{x}}" is inserted literally.
package templates

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// ErrInvalid wraps every error about a template's messages (Parse, Render).
var ErrInvalid = errors.New("invalid template")

// ErrVariables wraps Render's error when the variables given do not match
// those the template uses.
var ErrVariables = errors.New("wrong template variables")

// ErrReference wraps every error about a request's "template" member or
// body (Reference, Expand).
var ErrReference = errors.New("invalid template reference")

// MaxNameLen is the longest template name.
const MaxNameLen = 64

// ValidName reports whether name is a valid template name: [a-z0-9_.-]{1,64}.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Parse checks a template's messages and returns the names of the variables
// they use, sorted and unique (empty, not nil, when there are none). Errors
// wrap ErrInvalid and say where the problem is, e.g. "messages[1].role
// missing" or "unclosed {{ in messages[0].content".
func Parse(messages []byte) ([]string, error) {
	seen := map[string]bool{}
	_, err := walk(messages, false, func(path, s string) (string, error) {
		return "", placeholders(path, s, func(name string) string {
			seen[name] = true
			return ""
		}, nil)
	})
	if err != nil {
		return nil, err
	}
	vars := make([]string, 0, len(seen))
	for name := range seen {
		vars = append(vars, name)
	}
	slices.Sort(vars)
	return vars, nil
}

// Render substitutes vars into the template's messages and returns the
// rendered messages array (compact JSON). Values are inserted as text, so
// quotes, backslashes and newlines come out correctly escaped. Every
// variable used must be given and every variable given must be used:
// otherwise the error (wrapping ErrVariables) names the missing and the
// unexpected ones.
func Render(messages []byte, vars map[string]string) ([]byte, error) {
	used, err := Parse(messages)
	if err != nil {
		return nil, err
	}
	var missing, extra []string
	for _, name := range used {
		if _, ok := vars[name]; !ok {
			missing = append(missing, name)
		}
	}
	for name := range vars {
		if _, ok := slices.BinarySearch(used, name); !ok {
			extra = append(extra, name)
		}
	}
	for _, name := range used {
		if v, ok := vars[name]; ok && !utf8.ValidString(v) {
			return nil, fmt.Errorf("%w: the value of %s is not valid UTF-8", ErrVariables, name)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		slices.Sort(extra)
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing "+strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			parts = append(parts, "unexpected "+strings.Join(extra, ", "))
		}
		return nil, fmt.Errorf("%w: %s", ErrVariables, strings.Join(parts, "; "))
	}
	return walk(messages, true, func(path, s string) (string, error) {
		var b strings.Builder
		b.Grow(len(s))
		err := placeholders(path, s, func(name string) string { return vars[name] }, &b)
		return b.String(), err
	})
}

// placeholders scans s (found at path) for {{name}} placeholders, calling
// fn for each. When b is not nil, it receives s with every placeholder
// replaced by what fn returned.
func placeholders(path, s string, fn func(name string) string, b *strings.Builder) error {
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			if b != nil {
				b.WriteString(s)
			}
			return nil
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return fmt.Errorf("%w: unclosed {{ in %s", ErrInvalid, path)
		}
		inner := s[i+2 : i+2+j]
		name := strings.Trim(inner, " \t")
		if !validVariable(name) {
			return fmt.Errorf("%w: invalid placeholder %q in %s (want {{name}}, name matching [A-Za-z_][A-Za-z0-9_]*)",
				ErrInvalid, "{{"+inner+"}}", path)
		}
		v := fn(name)
		if b != nil {
			b.WriteString(s[:i])
			b.WriteString(v)
		}
		s = s[i+2+j+2:]
	}
}

func validVariable(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// walk checks messages and calls fn on every text that may hold
// placeholders, with its path ("messages[0].content",
// "messages[1].content[2].text"). When write is set it returns the messages
// with each such text replaced by what fn returned; otherwise nil.
func walk(messages []byte, write bool, fn func(path, s string) (string, error)) ([]byte, error) {
	w := walker{dec: jsontext.NewDecoder(bytes.NewReader(messages)), fn: fn}
	var out bytes.Buffer
	if write {
		w.enc = jsontext.NewEncoder(&out)
	}
	if err := w.messages(); err != nil {
		if errors.Is(err, ErrInvalid) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: messages are not valid JSON: %v", ErrInvalid, err)
	}
	if !write {
		return nil, nil
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}

type walker struct {
	dec *jsontext.Decoder
	enc *jsontext.Encoder // nil: check only
	fn  func(path, s string) (string, error)
}

func (w *walker) token() (jsontext.Token, error) {
	tok, err := w.dec.ReadToken()
	if err != nil {
		return jsontext.Token{}, err
	}
	if w.enc != nil {
		if err := w.enc.WriteToken(tok); err != nil {
			return jsontext.Token{}, err
		}
	}
	return tok, nil
}

// copyValue copies the next value as it is.
func (w *walker) copyValue() error {
	if w.enc == nil {
		return w.dec.SkipValue()
	}
	v, err := w.dec.ReadValue()
	if err != nil {
		return err
	}
	return w.enc.WriteValue(v)
}

// text reads the next value, a string, and writes what fn makes of it.
func (w *walker) text(path string) error {
	tok, err := w.dec.ReadToken()
	if err != nil {
		return err
	}
	s, err := w.fn(path, tok.String())
	if err != nil {
		return err
	}
	if w.enc != nil {
		return w.enc.WriteToken(jsontext.String(s))
	}
	return nil
}

// peek returns the kind of the next value, or the error reading it.
func (w *walker) peek() (jsontext.Kind, error) {
	if k := w.dec.PeekKind(); k != 0 {
		return k, nil
	}
	_, err := w.dec.ReadToken()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return 0, err
}

func (w *walker) messages() error {
	k, err := w.peek()
	if err != nil {
		return err
	}
	if k != '[' {
		return fmt.Errorf("%w: messages must be a JSON array, not %s", ErrInvalid, kindName(k))
	}
	if _, err := w.token(); err != nil {
		return err
	}
	n := 0
	for ; ; n++ {
		k, err := w.peek()
		if err != nil {
			return err
		}
		if k == ']' {
			break
		}
		if k != '{' {
			return fmt.Errorf("%w: messages[%d] must be an object, not %s", ErrInvalid, n, kindName(k))
		}
		if err := w.message(n); err != nil {
			return err
		}
	}
	if _, err := w.token(); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: messages is empty", ErrInvalid)
	}
	if _, err := w.dec.ReadToken(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("%w: messages: unexpected data after the array", ErrInvalid)
		}
		return err
	}
	return nil
}

func (w *walker) message(i int) error {
	if _, err := w.token(); err != nil { // {
		return err
	}
	var hasRole, hasContent bool
	for {
		k, err := w.peek()
		if err != nil {
			return err
		}
		if k == '}' {
			break
		}
		tok, err := w.token() // the member name
		if err != nil {
			return err
		}
		name := tok.String()
		path := fmt.Sprintf("messages[%d].%s", i, name)
		if k, err = w.peek(); err != nil {
			return err
		}
		switch name {
		case "role":
			hasRole = true
			if k != '"' {
				return fmt.Errorf("%w: %s must be a string, not %s", ErrInvalid, path, kindName(k))
			}
			tok, err := w.token()
			if err != nil {
				return err
			}
			if tok.String() == "" {
				return fmt.Errorf("%w: %s is empty", ErrInvalid, path)
			}
		case "content":
			hasContent = true
			switch k {
			case '"':
				err = w.text(path)
			case '[':
				err = w.parts(path)
			case 'n': // null: an assistant message with tool calls only
				err = w.copyValue()
			default:
				err = fmt.Errorf("%w: %s must be a string or an array of parts, not %s", ErrInvalid, path, kindName(k))
			}
			if err != nil {
				return err
			}
		default:
			if err := w.copyValue(); err != nil {
				return err
			}
		}
	}
	if _, err := w.token(); err != nil { // }
		return err
	}
	if !hasRole {
		return fmt.Errorf("%w: messages[%d].role missing", ErrInvalid, i)
	}
	if !hasContent {
		return fmt.Errorf("%w: messages[%d].content missing", ErrInvalid, i)
	}
	return nil
}

// parts walks an array of content parts: objects whose "text", when the
// part has one, may hold placeholders.
func (w *walker) parts(path string) error {
	if _, err := w.token(); err != nil { // [
		return err
	}
	for j := 0; ; j++ {
		k, err := w.peek()
		if err != nil {
			return err
		}
		if k == ']' {
			break
		}
		ppath := fmt.Sprintf("%s[%d]", path, j)
		if k != '{' {
			return fmt.Errorf("%w: %s must be an object, not %s", ErrInvalid, ppath, kindName(k))
		}
		if _, err := w.token(); err != nil {
			return err
		}
		var typ string
		var hasText bool
		for {
			k, err := w.peek()
			if err != nil {
				return err
			}
			if k == '}' {
				break
			}
			tok, err := w.token()
			if err != nil {
				return err
			}
			name := tok.String()
			if k, err = w.peek(); err != nil {
				return err
			}
			switch name {
			case "type":
				if k != '"' {
					return fmt.Errorf("%w: %s.type must be a string, not %s", ErrInvalid, ppath, kindName(k))
				}
				tok, err := w.token()
				if err != nil {
					return err
				}
				typ = tok.String()
			case "text":
				hasText = true
				if k != '"' {
					return fmt.Errorf("%w: %s.text must be a string, not %s", ErrInvalid, ppath, kindName(k))
				}
				if err := w.text(ppath + ".text"); err != nil {
					return err
				}
			default:
				if err := w.copyValue(); err != nil {
					return err
				}
			}
		}
		if _, err := w.token(); err != nil { // }
			return err
		}
		if typ == "text" && !hasText {
			return fmt.Errorf("%w: %s.text missing", ErrInvalid, ppath)
		}
		if typ == "" && !hasText {
			return fmt.Errorf("%w: %s.type missing", ErrInvalid, ppath)
		}
	}
	_, err := w.token() // ]
	return err
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "invalid JSON"
}

// reference is the "template" member of a chat request.
type reference struct {
	Name      *string           `json:"name"`
	Version   *int              `json:"version"`
	Variables map[string]string `json:"variables"`
}

// Reference reads the "template" member of an OpenAI chat request body:
// {"name": "...", "version": N, "variables": {"x": "..."}}, version
// optional (0 or absent: the latest), variables optional. ok is false, with
// no error, when the body has no "template" member. Errors wrap
// ErrReference.
func Reference(body []byte) (name string, version int, vars map[string]string, ok bool, err error) {
	raw, found, err := member(body, "template")
	if err != nil || !found {
		return "", 0, nil, false, err
	}
	if raw.Kind() != '{' {
		return "", 0, nil, false, fmt.Errorf("%w: template must be an object, not %s", ErrReference, kindName(raw.Kind()))
	}
	var ref reference
	if err := json.Unmarshal(raw, &ref, json.RejectUnknownMembers(true)); err != nil {
		return "", 0, nil, false, fmt.Errorf("%w: template: %v", ErrReference, err)
	}
	switch {
	case ref.Name == nil:
		return "", 0, nil, false, fmt.Errorf("%w: template.name missing", ErrReference)
	case !ValidName(*ref.Name):
		return "", 0, nil, false, fmt.Errorf("%w: template.name %q is not a valid name ([a-z0-9_.-]{1,64})", ErrReference, *ref.Name)
	}
	if ref.Version != nil {
		version = *ref.Version
		if version < 0 {
			return "", 0, nil, false, fmt.Errorf("%w: template.version %d must be positive", ErrReference, version)
		}
	}
	vars = ref.Variables
	if vars == nil {
		vars = map[string]string{}
	}
	return *ref.Name, version, vars, true, nil
}

// member returns the raw value of the top-level member name of a JSON
// object.
func member(body []byte, name string) (jsontext.Value, bool, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, false, fmt.Errorf("%w: body is not valid JSON: %v", ErrReference, err)
	}
	if tok.Kind() != '{' {
		return nil, false, fmt.Errorf("%w: body must be a JSON object", ErrReference)
	}
	var (
		found bool
		raw   jsontext.Value
	)
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, false, fmt.Errorf("%w: body is not valid JSON: %v", ErrReference, err)
		}
		if tok.String() == name {
			v, err := dec.ReadValue()
			if err != nil {
				return nil, false, fmt.Errorf("%w: body is not valid JSON: %v", ErrReference, err)
			}
			raw, found = v.Clone(), true
			continue
		}
		if err := dec.SkipValue(); err != nil {
			return nil, false, fmt.Errorf("%w: body is not valid JSON: %v", ErrReference, err)
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, false, fmt.Errorf("%w: body is not valid JSON: %v", ErrReference, err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, false, fmt.Errorf("%w: body is not valid JSON: data after the object", ErrReference)
	}
	return raw, found, nil
}

// Expand rewrites a chat request body: it removes the "template" member and
// puts the rendered messages (a JSON array, from Render) in front of the
// request's own "messages", which may be absent, null or empty. Every other
// member is kept, in order; when the body had no "messages", they take the
// place of "template". Errors wrap ErrReference.
func Expand(body []byte, rendered []byte) ([]byte, error) {
	prefix, err := chat.Elements(rendered)
	if err != nil {
		return nil, fmt.Errorf("%w: rendered messages: %v", ErrReference, err)
	}
	bad := func(err error) error { return fmt.Errorf("%w: body is not valid JSON: %v", ErrReference, err) }

	dec := jsontext.NewDecoder(bytes.NewReader(body))
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out)
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, bad(err)
	}
	if tok.Kind() != '{' {
		return nil, fmt.Errorf("%w: body must be a JSON object", ErrReference)
	}
	if err := enc.WriteToken(tok); err != nil {
		return nil, err
	}
	// First pass: does the body carry messages of its own?
	own, hasMessages, err := member(body, "messages")
	if err != nil {
		return nil, err
	}
	var ownElems []jsontext.Value
	if hasMessages {
		switch own.Kind() {
		case '[':
			if ownElems, err = chat.Elements(own); err != nil {
				return nil, bad(err)
			}
		case 'n':
		default:
			return nil, fmt.Errorf("%w: messages must be an array, not %s", ErrReference, kindName(own.Kind()))
		}
	}
	written := false
	writeMessages := func() error {
		written = true
		if err := enc.WriteToken(jsontext.String("messages")); err != nil {
			return err
		}
		if err := enc.WriteToken(jsontext.BeginArray); err != nil {
			return err
		}
		for _, v := range slices.Concat(prefix, ownElems) {
			if err := enc.WriteValue(v); err != nil {
				return err
			}
		}
		return enc.WriteToken(jsontext.EndArray)
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, bad(err)
		}
		name := tok.String() // copied: tok is only valid until the next read
		v, err := dec.ReadValue()
		if err != nil {
			return nil, bad(err)
		}
		switch {
		case name == "template":
			if !hasMessages {
				if err := writeMessages(); err != nil {
					return nil, err
				}
			}
		case name == "messages":
			if err := writeMessages(); err != nil {
				return nil, err
			}
		default:
			if err := enc.WriteToken(jsontext.String(name)); err != nil {
				return nil, err
			}
			if err := enc.WriteValue(v); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, bad(err)
	}
	if !written {
		// Neither "template" nor "messages": the messages go last.
		if err := writeMessages(); err != nil {
			return nil, err
		}
	}
	if err := enc.WriteToken(jsontext.EndObject); err != nil {
		return nil, err
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}
