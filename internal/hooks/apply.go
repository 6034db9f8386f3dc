package hooks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// member is one member of a JSON object: its name as written (a JSON
// string, escapes kept), its unquoted name, and its value as written.
type member struct {
	rawName jsontext.Value
	name    string
	value   jsontext.Value
}

// splitObject returns the members of the JSON object b, in order, their
// bytes copied verbatim. Duplicate names are an error.
func splitObject(b []byte) ([]member, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	if tok.Kind() != '{' {
		return nil, errors.New("not a JSON object")
	}
	var ms []member
	for dec.PeekKind() != '}' {
		rawName, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		rawName = rawName.Clone()
		name, err := jsontext.AppendUnquote(nil, rawName)
		if err != nil {
			return nil, err
		}
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		ms = append(ms, member{rawName: rawName, name: string(name), value: v.Clone()})
	}
	if _, err := dec.ReadToken(); err != nil { // '}'
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the top-level object")
		}
		return nil, err
	}
	return ms, nil
}

// joinObject encodes ms as a JSON object.
func joinObject(ms []member) []byte {
	n := 2
	for _, m := range ms {
		n += len(m.rawName) + len(m.value) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.rawName...)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return append(b, '}')
}

// newMember is a member named name (quoted canonically) with value v.
func newMember(name string, v []byte) member {
	q, _ := jsontext.AppendQuote(nil, name)
	return member{rawName: q, name: name, value: v}
}

// joinArray encodes vs as a JSON array.
func joinArray(vs []jsontext.Value) []byte {
	var b []byte
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return append(b, ']')
}

func isNull(v jsontext.Value) bool { return v.Kind() == 'n' }

// messageRole returns the role of the message m, which must be a JSON
// object with a non-empty string "role".
func messageRole(m jsontext.Value) (string, error) {
	if m.Kind() != '{' || !m.IsValid() {
		return "", errors.New("message is not a JSON object")
	}
	var r struct {
		Role *string `json:"role"`
	}
	if err := json.Unmarshal(m, &r); err != nil {
		return "", err
	}
	if r.Role == nil || *r.Role == "" {
		return "", errors.New(`message has no "role"`)
	}
	return *r.Role, nil
}

// isSystemRole reports whether role is an OpenAI system-level role.
func isSystemRole(role string) bool { return role == "system" || role == "developer" }

// compact returns a compact copy of the valid JSON value v.
func compact(v jsontext.Value) (jsontext.Value, error) {
	c := v.Clone()
	if err := c.Compact(); err != nil {
		return nil, err
	}
	return c, nil
}

// hookMessages validates and compacts d.Messages.
func hookMessages(d Decision) (msgs []jsontext.Value, roles []string, err error) {
	for i, m := range d.Messages {
		role, err := messageRole(m)
		if err != nil {
			return nil, nil, fmt.Errorf("hooks: decision messages[%d]: %v", i, err)
		}
		c, err := compact(m)
		if err != nil {
			return nil, nil, fmt.Errorf("hooks: decision messages[%d]: %v", i, err)
		}
		msgs = append(msgs, c)
		roles = append(roles, role)
	}
	return msgs, roles, nil
}

// Apply modifies an OpenAI chat completions request body with a pre hook's
// decision: it inserts d.Messages into "messages" at d.Position ("start",
// the default: after any leading system/developer messages; "end":
// appended), and merges d.Metadata into the "metadata" object (created if
// absent or null; the hook's keys override the client's, new keys are
// appended in sorted order). Other members keep their bytes and order.
// A decision other than "modify", or one with nothing to add, returns body
// itself.
func Apply(body []byte, d Decision) ([]byte, error) {
	if d.Action != ActionModify || (len(d.Messages) == 0 && len(d.Metadata) == 0) {
		return body, nil
	}
	msgs, _, err := hookMessages(d)
	if err != nil {
		return nil, err
	}
	ms, err := splitObject(body)
	if err != nil {
		return nil, fmt.Errorf("hooks: request body: %w", err)
	}
	if len(msgs) > 0 {
		i := slices.IndexFunc(ms, func(m member) bool { return m.name == "messages" })
		var existing []jsontext.Value
		if i >= 0 && !isNull(ms[i].value) {
			if existing, err = chat.Elements(ms[i].value); err != nil {
				return nil, fmt.Errorf("hooks: request messages: %w", err)
			}
		}
		at := len(existing)
		if d.Position != PositionEnd {
			at = 0
			for at < len(existing) {
				role, err := messageRole(existing[at])
				if err != nil || !isSystemRole(role) {
					break
				}
				at++
			}
		}
		v := joinArray(slices.Insert(existing, at, msgs...))
		if i >= 0 {
			ms[i].value = v
		} else {
			ms = append(ms, newMember("messages", v))
		}
	}
	if len(d.Metadata) > 0 {
		if ms, err = mergeMetadata(ms, d.Metadata); err != nil {
			return nil, err
		}
	}
	return joinObject(ms), nil
}

// mergeMetadata merges md into the "metadata" member of ms.
func mergeMetadata(ms []member, md map[string]string) ([]member, error) {
	i := slices.IndexFunc(ms, func(m member) bool { return m.name == "metadata" })
	var existing []member
	if i >= 0 && !isNull(ms[i].value) {
		var err error
		if existing, err = splitObject(ms[i].value); err != nil {
			return nil, fmt.Errorf("hooks: request metadata: %w", err)
		}
	}
	done := make(map[string]bool, len(md))
	for j, m := range existing {
		if v, ok := md[m.name]; ok {
			q, err := jsontext.AppendQuote(nil, v)
			if err != nil {
				return nil, fmt.Errorf("hooks: decision metadata %q: %w", m.name, err)
			}
			existing[j].value = q
			done[m.name] = true
		}
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		q, err := jsontext.AppendQuote(nil, md[k])
		if err != nil {
			return nil, fmt.Errorf("hooks: decision metadata %q: %w", k, err)
		}
		existing = append(existing, newMember(k, q))
	}
	v := joinObject(existing)
	if i >= 0 {
		ms[i].value = v
	} else {
		ms = append(ms, newMember("metadata", v))
	}
	return ms, nil
}

// ApplyAnthropic modifies an Anthropic messages request body with a pre
// hook's decision. The hook's system/developer messages go to "system":
// created as a string when absent or null, appended to a string system
// (separated by a blank line), or appended as {"type":"text"} blocks to a
// block-array system. Its other messages (roles "user" and "assistant"
// only) are inserted into "messages" as {"role","content"} at d.Position
// ("start", the default: first, since Anthropic has no system messages
// there; "end": appended). d.Metadata is not merged: Anthropic's "metadata"
// accepts only user_id and rejects other keys. Other members keep their
// bytes and order. A decision other than "modify", or one with no
// messages, returns body itself.
func ApplyAnthropic(body []byte, d Decision) ([]byte, error) {
	if d.Action != ActionModify || len(d.Messages) == 0 {
		return body, nil
	}
	msgs, roles, err := hookMessages(d)
	if err != nil {
		return nil, err
	}
	var system []string
	var turns []jsontext.Value
	for i, m := range msgs {
		var c struct {
			Content jsontext.Value `json:"content"`
		}
		if err := json.Unmarshal(m, &c); err != nil {
			return nil, fmt.Errorf("hooks: decision messages[%d]: %v", i, err)
		}
		switch {
		case isSystemRole(roles[i]):
			text, err := contentText(c.Content)
			if err != nil {
				return nil, fmt.Errorf("hooks: decision messages[%d]: %v", i, err)
			}
			system = append(system, text)
		case roles[i] == "user" || roles[i] == "assistant":
			if len(c.Content) == 0 || isNull(c.Content) {
				return nil, fmt.Errorf("hooks: decision messages[%d]: no content", i)
			}
			b := []byte(`{"role":`)
			b, _ = jsontext.AppendQuote(b, roles[i])
			b = append(b, `,"content":`...)
			b = append(b, c.Content...)
			turns = append(turns, append(b, '}'))
		default:
			return nil, fmt.Errorf("hooks: decision messages[%d]: role %q has no Anthropic equivalent", i, roles[i])
		}
	}
	ms, err := splitObject(body)
	if err != nil {
		return nil, fmt.Errorf("hooks: request body: %w", err)
	}
	if len(system) > 0 {
		if ms, err = appendSystem(ms, system); err != nil {
			return nil, err
		}
	}
	if len(turns) > 0 {
		i := slices.IndexFunc(ms, func(m member) bool { return m.name == "messages" })
		var existing []jsontext.Value
		if i >= 0 && !isNull(ms[i].value) {
			if existing, err = chat.Elements(ms[i].value); err != nil {
				return nil, fmt.Errorf("hooks: request messages: %w", err)
			}
		}
		at := 0
		if d.Position == PositionEnd {
			at = len(existing)
		}
		v := joinArray(slices.Insert(existing, at, turns...))
		if i >= 0 {
			ms[i].value = v
		} else {
			ms = append(ms, newMember("messages", v))
		}
	}
	return joinObject(ms), nil
}

// contentText is the text of an OpenAI message content: a string, or an
// array of {"type":"text","text":...} parts (joined by newlines).
func contentText(c jsontext.Value) (string, error) {
	switch c.Kind() {
	case '"':
		var s string
		err := json.Unmarshal(c, &s)
		return s, err
	case '[':
		var parts []struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(c, &parts); err != nil {
			return "", err
		}
		texts := make([]string, 0, len(parts))
		for _, p := range parts {
			if p.Type != "text" || p.Text == nil {
				return "", fmt.Errorf("system content part of type %q is not text", p.Type)
			}
			texts = append(texts, *p.Text)
		}
		return strings.Join(texts, "\n"), nil
	default:
		return "", errors.New("system message content is neither a string nor an array of text parts")
	}
}

// appendSystem appends texts to the "system" member of ms.
func appendSystem(ms []member, texts []string) ([]member, error) {
	i := slices.IndexFunc(ms, func(m member) bool { return m.name == "system" })
	var v []byte
	var err error
	switch {
	case i < 0 || isNull(ms[i].value):
		v, err = jsontext.AppendQuote(nil, strings.Join(texts, "\n\n"))
	case ms[i].value.Kind() == '"':
		var s string
		if err := json.Unmarshal(ms[i].value, &s); err != nil {
			return nil, fmt.Errorf("hooks: request system: %w", err)
		}
		if s != "" {
			texts = append([]string{s}, texts...)
		}
		v, err = jsontext.AppendQuote(nil, strings.Join(texts, "\n\n"))
	case ms[i].value.Kind() == '[':
		blocks, err := chat.Elements(ms[i].value)
		if err != nil {
			return nil, fmt.Errorf("hooks: request system: %w", err)
		}
		for _, t := range texts {
			b := []byte(`{"type":"text","text":`)
			if b, err = jsontext.AppendQuote(b, t); err != nil {
				return nil, fmt.Errorf("hooks: decision system text: %w", err)
			}
			blocks = append(blocks, append(b, '}'))
		}
		v = joinArray(blocks)
	default:
		return nil, errors.New("hooks: request system is neither a string nor an array")
	}
	if err != nil {
		return nil, fmt.Errorf("hooks: decision system text: %w", err)
	}
	if i >= 0 {
		ms[i].value = v
	} else {
		ms = append(ms, newMember("system", v))
	}
	return ms, nil
}
