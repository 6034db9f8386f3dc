package templates

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		messages string
		want     []string
		err      string // substring of the error; "" for none
	}{
		{"no variables", `[{"role":"system","content":"You are helpful."}]`, []string{}, ""},
		{"sorted and unique", `[{"role":"system","content":"{{b}} {{a}}"},{"role":"user","content":"{{ a }} {{\tc_1 }}"}]`,
			[]string{"a", "b", "c_1"}, ""},
		{"content parts", `[{"role":"user","content":[{"type":"text","text":"Hi {{name}}"},{"type":"image_url","image_url":{"url":"https://x/{{not_a_var}}.png"}}]}]`,
			[]string{"name"}, ""},
		{"other members ignored", `[{"role":"assistant","name":"{{x}}","content":null,"tool_calls":[{"id":"1"}]}]`, []string{}, ""},
		{"underscore and digits", `[{"role":"user","content":"{{_a9}}{{Z}}"}]`, []string{"Z", "_a9"}, ""},
		{"single braces are text", `[{"role":"user","content":"{a} } {"}]`, []string{}, ""},
		{"escaped text", `[{"role":"user","content":"\u007b\u007bname}}"}]`, []string{"name"}, ""},

		{"not JSON", `[{"role":`, nil, "not valid JSON"},
		{"trailing data", `[{"role":"user","content":"x"}] []`, nil, "unexpected data after the array"},
		{"not an array", `{"role":"user","content":"x"}`, nil, "messages must be a JSON array"},
		{"empty", `[]`, nil, "messages is empty"},
		{"message not an object", `[{"role":"user","content":"x"}, "hi"]`, nil, "messages[1] must be an object"},
		{"role missing", `[{"role":"user","content":"x"},{"content":"y"}]`, nil, "messages[1].role missing"},
		{"role empty", `[{"role":"","content":"y"}]`, nil, "messages[0].role is empty"},
		{"role not a string", `[{"role":1,"content":"y"}]`, nil, "messages[0].role must be a string"},
		{"content missing", `[{"role":"user"}]`, nil, "messages[0].content missing"},
		{"content a number", `[{"role":"user","content":3}]`, nil, "messages[0].content must be a string or an array of parts"},
		{"unclosed", `[{"role":"user","content":"Hi {{name"}]`, nil, "unclosed {{ in messages[0].content"},
		{"unclosed in part", `[{"role":"user","content":[{"type":"text","text":"ok"},{"type":"text","text":"{{"}]}]`,
			nil, "unclosed {{ in messages[0].content[1].text"},
		{"bad name", `[{"role":"user","content":"{{1a}}"}]`, nil, `invalid placeholder "{{1a}}" in messages[0].content`},
		{"empty name", `[{"role":"user","content":"{{ }}"}]`, nil, `invalid placeholder "{{ }}"`},
		{"two words", `[{"role":"user","content":"{{a b}}"}]`, nil, `invalid placeholder "{{a b}}"`},
		{"part not an object", `[{"role":"user","content":["x"]}]`, nil, "messages[0].content[0] must be an object"},
		{"part text missing", `[{"role":"user","content":[{"type":"text"}]}]`, nil, "messages[0].content[0].text missing"},
		{"part type missing", `[{"role":"user","content":[{}]}]`, nil, "messages[0].content[0].type missing"},
		{"part text not a string", `[{"role":"user","content":[{"type":"text","text":1}]}]`, nil, "messages[0].content[0].text must be a string"},
		{"duplicate member", `[{"role":"user","role":"system","content":"x"}]`, nil, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.messages))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Parse = %v, %v; want an ErrInvalid containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Parse (-want +got):\n%s", d)
			}
		})
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name     string
		messages string
		vars     map[string]string
		want     string
		err      string
	}{
		{"no variables", `[{"role":"system","content":"Be brief."}]`, nil,
			`[{"role":"system","content":"Be brief."}]`, ""},
		{"substitution", `[{"role":"system","content":"You help {{ team }}."},{"role":"user","content":"{{q}}{{q}}"}]`,
			map[string]string{"team": "ads", "q": "hi"},
			`[{"role":"system","content":"You help ads."},{"role":"user","content":"hihi"}]`, ""},
		{"escaping", `[{"role":"user","content":"Say: {{text}}"}]`,
			map[string]string{"text": "\"quoted\"\nnew line\\ back\ttab </script> é"},
			`[{"role":"user","content":"Say: \"quoted\"\nnew line\\ back\ttab </script> é"}]`, ""},
		{"values are not expanded again", `[{"role":"user","content":"{{a}}"}]`,
			map[string]string{"a": "{{a}} {{b"},
			`[{"role":"user","content":"{{a}} {{b"}]`, ""},
		{"content parts", `[{"role":"user","content":[{"type":"text","text":"Hi {{name}}"},{"type":"image_url","image_url":{"url":"u"}}]}]`,
			map[string]string{"name": `Ann "A"`},
			`[{"role":"user","content":[{"type":"text","text":"Hi Ann \"A\""},{"type":"image_url","image_url":{"url":"u"}}]}]`, ""},
		{"other members kept", `[{"role":"user","name":"bob","content":"{{x}}","extra":{"n":1.50}}]`,
			map[string]string{"x": "y"},
			`[{"role":"user","name":"bob","content":"y","extra":{"n":1.50}}]`, ""},

		{"missing", `[{"role":"user","content":"{{a}} {{b}} {{c}}"}]`, map[string]string{"b": ""}, "", "missing a, c"},
		{"extra", `[{"role":"user","content":"{{a}}"}]`, map[string]string{"a": "1", "z": "2", "y": "3"}, "", "unexpected y, z"},
		{"missing and extra", `[{"role":"user","content":"{{a}}"}]`, map[string]string{"b": "1"}, "", "missing a; unexpected b"},
		{"extra without placeholders", `[{"role":"user","content":"x"}]`, map[string]string{"b": "1"}, "", "unexpected b"},
		{"invalid UTF-8 value", `[{"role":"user","content":"{{a}}"}]`, map[string]string{"a": "\xff"}, "", "not valid UTF-8"},
		{"invalid template", `[{"content":"x"}]`, nil, "", "messages[0].role missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render([]byte(tt.messages), tt.vars)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Render = %s, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Render =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Render gave invalid JSON: %s", got)
			}
		})
	}
}

func TestRenderErrorKinds(t *testing.T) {
	if _, err := Render([]byte(`[{"role":"user","content":"{{a}}"}]`), nil); !errors.Is(err, ErrVariables) {
		t.Errorf("missing variable: %v, want ErrVariables", err)
	}
	if _, err := Render([]byte(`[`), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid template: %v, want ErrInvalid", err)
	}
}

// TestRenderRoundTrip checks awkward values survive a JSON decode intact.
func TestRenderRoundTrip(t *testing.T) {
	for _, v := range []string{"", `"`, `\`, "\n\r\t", "\x00\x1f", "\u2028\u2029", "😀", `{"json":true}`, "}}{{"} {
		got, err := Render([]byte(`[{"role":"user","content":"<{{v}}>"}]`), map[string]string{"v": v})
		if err != nil {
			t.Fatalf("Render(%q): %v", v, err)
		}
		var msgs []struct{ Role, Content string }
		if err := json.Unmarshal(got, &msgs); err != nil {
			t.Fatalf("Render(%q) = %s: %v", v, got, err)
		}
		if len(msgs) != 1 || msgs[0].Content != "<"+v+">" {
			t.Errorf("Render(%q) content = %q", v, msgs)
		}
	}
}

func TestReference(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    string // name
		version int
		vars    map[string]string
		ok      bool
		err     string
	}{
		{"no template", `{"model":"gpt","messages":[]}`, "", 0, nil, false, ""},
		{"name only", `{"model":"gpt","template":{"name":"greet"}}`, "greet", 0, map[string]string{}, true, ""},
		{"version and variables", `{"template":{"name":"a.b-c_1","version":3,"variables":{"x":"1","y":"a\"b"}},"model":"m"}`,
			"a.b-c_1", 3, map[string]string{"x": "1", "y": `a"b`}, true, ""},
		{"null version is latest", `{"template":{"name":"g","version":null}}`, "g", 0, map[string]string{}, true, ""},

		{"not JSON", `{"template":`, "", 0, nil, false, "not valid JSON"},
		{"not an object", `[1]`, "", 0, nil, false, "body must be a JSON object"},
		{"template not an object", `{"template":"greet"}`, "", 0, nil, false, "template must be an object"},
		{"template null", `{"template":null}`, "", 0, nil, false, "template must be an object"},
		{"name missing", `{"template":{"version":1}}`, "", 0, nil, false, "template.name missing"},
		{"bad name", `{"template":{"name":"Greet!"}}`, "", 0, nil, false, "not a valid name"},
		{"negative version", `{"template":{"name":"g","version":-1}}`, "", 0, nil, false, "must be positive"},
		{"fractional version", `{"template":{"name":"g","version":1.5}}`, "", 0, nil, false, "template:"},
		{"variable not a string", `{"template":{"name":"g","variables":{"x":1}}}`, "", 0, nil, false, "template:"},
		{"unknown member", `{"template":{"name":"g","vars":{}}}`, "", 0, nil, false, "vars"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, version, vars, ok, err := Reference([]byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrReference) {
					t.Fatalf("Reference = %q %d %v %v, %v; want an ErrReference containing %q", name, version, vars, ok, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Reference: %v", err)
			}
			if name != tt.want || version != tt.version || ok != tt.ok || !cmp.Equal(vars, tt.vars) {
				t.Errorf("Reference = %q %d %v %v, want %q %d %v %v", name, version, vars, ok, tt.want, tt.version, tt.vars, tt.ok)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	rendered := `[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"ctx"}]`
	tests := []struct {
		name string
		body string
		want string
		err  string
	}{
		{"prepended to own messages",
			`{"model":"gpt","template":{"name":"g"},"messages":[{"role":"user","content":"hi"}],"stream":true}`,
			`{"model":"gpt","messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"ctx"},{"role":"user","content":"hi"}],"stream":true}`, ""},
		{"messages before template",
			`{"messages":[{"role":"user","content":"hi"}],"template":{"name":"g"},"temperature":0.50}`,
			`{"messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"ctx"},{"role":"user","content":"hi"}],"temperature":0.50}`, ""},
		{"without messages: in the template's place",
			`{"model":"gpt","template":{"name":"g"},"max_tokens":5}`,
			`{"model":"gpt","messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"ctx"}],"max_tokens":5}`, ""},
		{"empty messages",
			`{"template":{"name":"g"},"messages":[]}`,
			`{"messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"ctx"}]}`, ""},
		{"null messages",
			`{"messages":null,"template":{"name":"g"}}`,
			`{"messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"ctx"}]}`, ""},
		{"no template member: messages last",
			`{"model":"gpt"}`,
			`{"model":"gpt","messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"ctx"}]}`, ""},
		{"big numbers and nesting kept",
			`{"template":{"name":"g"},"seed":12345678901234567890,"metadata":{"a":[1,{"b":null}]}}`,
			`{"messages":[{"role":"system","content":"Be \"brief\"."},{"role":"user","content":"ctx"}],"seed":12345678901234567890,"metadata":{"a":[1,{"b":null}]}}`, ""},

		{"messages not an array", `{"template":{"name":"g"},"messages":"hi"}`, "", "messages must be an array"},
		{"not JSON", `{"template":{"name":"g"}`, "", "not valid JSON"},
		{"not an object", `[]`, "", "body must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand([]byte(tt.body), []byte(rendered))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrReference) {
					t.Fatalf("Expand = %s, %v; want an ErrReference containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Expand: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Expand =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	if _, err := Expand([]byte(`{}`), []byte(`{"role":"user"}`)); err == nil {
		t.Error("Expand with rendered messages that are not an array succeeded")
	}
}

// TestFlow runs the whole path a request takes: Reference, Render of the
// stored messages with the request's variables, Expand.
func TestFlow(t *testing.T) {
	stored := []byte(`[{"role":"system","content":"You answer about {{product}}."}]`)
	body := []byte(`{"model":"gpt","template":{"name":"support","version":2,"variables":{"product":"the \"X\" line\nv2"}},"messages":[{"role":"user","content":"help"}]}`)
	name, version, vars, ok, err := Reference(body)
	if err != nil || !ok || name != "support" || version != 2 {
		t.Fatalf("Reference = %q %d %v, %v", name, version, ok, err)
	}
	rendered, err := Render(stored, vars)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Expand(body, rendered)
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Model    string
		Template any
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal(out, &req); err != nil {
		t.Fatal(err)
	}
	want := []struct{ Role, Content string }{
		{"system", "You answer about the \"X\" line\nv2."},
		{"user", "help"},
	}
	if req.Model != "gpt" || req.Template != nil || !cmp.Equal(req.Messages, want) {
		t.Errorf("expanded request = %+v", req)
	}
	if _, _, _, ok, err := Reference(out); ok || err != nil {
		t.Errorf("Reference of the expanded body = %v, %v; want no template", ok, err)
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "greet-v2.en_us": true, "0": true, strings.Repeat("x", 64): true,
		"": false, "A": false, "a b": false, "a/b": false, "é": false, strings.Repeat("x", 65): false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}
