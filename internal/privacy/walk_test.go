package privacy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// nest wraps inner in n arrays.
func nest(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

// nestObjects wraps inner in n objects, each the value of a member "o".
func nestObjects(n int, inner string) string {
	return strings.Repeat(`{"o":`, n) + inner + strings.Repeat("}", n)
}

// walkCases are inputs on which Text must agree with referenceText: the
// shapes the gateway sees and the corners of JSON a hand-written walker
// gets wrong. Their truncations are checked too, and they seed FuzzText.
var walkCases = []struct{ name, in string }{
	{"openai answer", openAIAnswer},
	{"openai stream", openAIStream},
	{"openai request", `{"model":"gpt-4o","temperature":0.2,"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":[{"type":"text","text":"What is 2+2?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`},
	{"anthropic tool use", `{"type":"message","content":[{"type":"thinking","thinking":"hmm","signature":"abc"},{"type":"tool_use","id":"t","name":"f","input":{"q":"not text","text":"text"}},{"type":"text","text":"done"}]}`},
	{"anthropic stream", "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[]}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\": \"}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n"},
	{"escaped names", `{"con\u0074ent":"a","\u0074ext":"b","te\/xt":"c","text\u0000":"no","\u0063\u006f\u006e\u0074\u0065\u006e\u0074":"d","Content":"no","content ":"no"}`},
	{"long escaped name", `{"\u0063\u006f\u006e\u0074\u0065\u006e\u0074\u0063\u006f\u006e\u0074\u0065\u006e\u0074":"no","content":"yes"}`},
	{"escaped values", `{"content":"tab\there \"quoted\" back\\slash \/ \b\f\n\r nul\u0000 \u00e9 \u20AC \ud83d\ude00 \uD83D\uDE00 \u2028"}`},
	{"raw unicode", `{"content":"café ☕ 😀 \u00e9 ｆｕｌｌ","text":"\u007f` + "\x7f" + `"}`},
	{"lone high surrogate", `{"content":"ok","text":"\ud83d","prompt":"after"}`},
	{"lone low surrogate", `{"content":"ok","text":"\ude00x","prompt":"after"}`},
	{"reversed surrogates", `{"content":"ok","text":"\ude00\ud83d","prompt":"after"}`},
	{"high surrogate then bmp escape", `{"content":"ok","text":"\ud83d\u0041","prompt":"after"}`},
	{"high surrogate then plain", `{"content":"ok","text":"\ud83dxxxxxx","prompt":"after"}`},
	{"bad escape", `{"content":"ok","text":"\x","prompt":"after"}`},
	{"bad hex escape", `{"content":"ok","text":"\u12G4","prompt":"after"}`},
	{"control character", "{\"content\":\"ok\",\"text\":\"a\tb\",\"prompt\":\"after\"}"},
	{"invalid utf8 in text", "{\"content\":\"ok\",\"text\":\"a\xffb\",\"prompt\":\"after\"}"},
	{"invalid utf8 in skipped value", "{\"content\":\"ok\",\"id\":\"a\xc3\",\"prompt\":\"after\"}"},
	{"invalid utf8 in name", "{\"content\":\"ok\",\"\xed\xa0\x80\":1,\"prompt\":\"after\"}"},
	{"utf8 replacement char", "{\"content\":\"\xef\xbf\xbd\"}"},
	{"arrays of strings", `{"input":["a","b",["c",["d"]],{"text":"e","x":"no"},1,null,true,false,{}, []],"x":["no"]}`},
	{"text object", `{"content":{"x":"no","text":"yes","content":{"content":"deep"}}}`},
	{"scalars under text keys", `{"content":1,"text":-0.5e+10,"input":true,"prompt":false,"system":null,"arguments":{},"refusal":[],"thinking":"t"}`},
	{"numbers", `{"a":[0,-0,1,-1,10,0.5,1e3,1E-3,1.5e+3,-12.34e-56,123456789012345678901234567890],"content":"after"}`},
	{"bad numbers", `{"content":"a","n":01,"text":"b"}`},
	{"bad number dot", `{"content":"a","n":1.,"text":"b"}`},
	{"bad number exp", `{"content":"a","n":1e,"text":"b"}`},
	{"bad number minus", `{"content":"a","n":-,"text":"b"}`},
	{"bad number plus", `{"content":"a","n":+1,"text":"b"}`},
	{"bad number hex", `{"content":"a","n":0x1,"text":"b"}`},
	{"bad literal", `{"content":"a","n":nul,"text":"b"}`},
	{"literal with tail", `{"content":"a","n":truex,"text":"b"}`},
	{"capital literal", `{"content":"a","n":True,"text":"b"}`},
	{"whitespace", " \t\r\n{ \t\r\n\"content\" \t\r\n: \t\r\n\"a\" \t\r\n, \"input\" : [ \"b\" , \"c\" ] \n} \n"},
	{"pretty", "{\n  \"messages\": [\n    {\n      \"role\": \"user\",\n      \"content\": [\n        {\n          \"type\": \"text\",\n          \"text\": \"hi\"\n        }\n      ]\n    }\n  ]\n}"},
	{"non json whitespace", "{\"content\":\"a\",\v\"text\":\"b\"}"},
	{"nbsp whitespace", "{\"content\":\"a\",\u00a0\"text\":\"b\"}"},
	{"empty containers", `{"a":{},"b":[],"c":[{}],"d":[[]],"content":[],"text":{}, "input":[[],{}],"prompt":""}`},
	{"duplicate names", `{"content":"a","content":"b","content":["c"]}`},
	{"empty name", `{"":"no","content":"yes"}`},
	{"trailing comma in object", `{"content":"a",}`},
	{"trailing comma in array", `{"content":["a",],"text":"b"}`},
	{"leading comma", `{,"content":"a"}`},
	{"missing comma", `{"content":"a" "text":"b"}`},
	{"missing colon", `{"content" "a","text":"b"}`},
	{"double colon", `{"content"::"a","text":"b"}`},
	{"colon for comma", `{"content":"a":"text":"b"}`},
	{"non string name", `{"content":"a",1:"b","text":"c"}`},
	{"unquoted name", `{"content":"a",text:"c"}`},
	{"missing value", `{"content":"a","text":,"input":"c"}`},
	{"missing value at end", `{"content":"a","text":}`},
	{"mismatched close", `{"content":["a"}],"text":"b"}`},
	{"mismatched close object", `{"content":{"text":"a"]},"text":"b"}`},
	{"extra close", `{"content":"a"}}{"text":"b"}`},
	{"trailing garbage", `{"content":"a"} garbage "text":"b"`},
	{"two objects", `{"content":"a"}{"content":"b"}`},
	{"nul byte", "{\"content\":\"a\"\x00,\"text\":\"b\"}"},
	{"single quotes", `{'content':'a',"text":"b"}`},
	{"comment", `{"content":"a",/* c */"text":"b"}`},
	{"deep arrays ok", `{"content":` + nest(maxDepth-1, `"deep"`) + `,"text":"after"}`},
	{"deep arrays too deep", `{"content":"before","text":` + nest(maxDepth, `"deep"`) + `,"input":"after"}`},
	{"deep objects ok", `{"content":"before","x":` + nestObjects(maxDepth-2, `{"text":"deep"}`) + `,"input":"after"}`},
	{"deep objects too deep", `{"content":"before","x":` + nestObjects(maxDepth-1, `{"text":"deep"}`) + `,"input":"after"}`},
	{"deep empty", `{"content":"before","x":` + nest(maxDepth, ``) + `,"input":"after"}`},
	{"not json", "<html>oops</html>"},
	{"empty", ""},
	{"only space", " \n\t"},
	{"top-level array", `["content","a"]`},
	{"top-level string", `"content"`},
	{"sse done", "data: [DONE]\n\n"},
	{"sse variants", "data:{\"content\":\"nospace\"}\ndata:   {\"content\":\"spaces\"}   \r\ndata: {\"content\":\"crlf\"}\r\n\r\n: comment\nevent: x\nid: 1\nretry: 5\ndata: not json\ndata: 123\ndata: [\"content\",\"x\"]\ndata: \"s\"\n data: {\"content\":\"indented\"}\nDATA: {\"content\":\"caps\"}\ndata: {\"content\":\"bad\" \ndata: {\"content\":\"last\"}"},
	{"sse truncated event", "data: {\"content\":\"a\"}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b"},
	{"sse nbsp", "data: \u00a0{\"content\":\"a\"}\u00a0\n"},
	{"sse data with leading brace later", "x\ndata: {\"content\":\"a\"}\n"},
	{"body with leading newlines", "\n\n{\"content\":\"a\"}\ndata: {\"content\":\"b\"}\n"},
}

func TestTextMatchesReference(t *testing.T) {
	for _, tt := range walkCases {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			if got, want := Text(in), referenceText(in); !bytes.Equal(got, want) {
				t.Fatalf("Text(%.200q) = %q, want %q", in, got, want)
			}
			// Every truncation, as when an upstream hangs up midway.
			if len(in) > 4096 {
				in = in[len(in)-4096:] // the deep cases: their tails
			}
			for n := range len(in) {
				if got, want := Text(in[:n]), referenceText(in[:n]); !bytes.Equal(got, want) {
					t.Fatalf("Text(%q) = %q, want %q", in[:n], got, want)
				}
			}
		})
	}
}

// TestTextEdges pins what the walker finds in some of walkCases, lest both
// it and the reference agree on nothing.
func TestTextEdges(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"escaped names", "a\nb\nd\n"},
		{"duplicate names", "a\nb\nc\n"}, // the old code stopped at the second "content"
		{"escaped values", "tab\there \"quoted\" back\\slash / \b\f\n\r nul\x00 é € 😀 😀 \u2028\n"},
		{"lone high surrogate", "ok\n"},
		{"arrays of strings", "a\nb\nc\nd\ne\n"},
		{"text object", "yes\ndeep\n"},
		{"deep arrays ok", "deep\nafter\n"},
		{"deep arrays too deep", "before\n"},
		{"deep objects ok", "before\ndeep\nafter\n"},
		{"deep objects too deep", "before\n"},
		{"missing comma", "a\n"},
		{"sse variants", "nospace\nspaces\ncrlf\nbad\nlast\n"},
	} {
		i := -1
		for j, c := range walkCases {
			if c.name == tt.name {
				i = j
			}
		}
		if i < 0 {
			t.Fatalf("no walk case %q", tt.name)
		}
		if got := string(Text([]byte(walkCases[i].in))); got != tt.want {
			t.Errorf("%s: Text = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestIsTextKey(t *testing.T) {
	for name := range refTextKeys {
		if !isTextKey([]byte(name)) {
			t.Errorf("isTextKey(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"", "Content", "contents", "role", "type", "name", "partial", "json"} {
		if isTextKey([]byte(name)) {
			t.Errorf("isTextKey(%q) = true, want false", name)
		}
	}
}

// FuzzText checks Text against referenceText. The walker checks its input
// as strictly as the decoder the reference uses, so they agree on invalid
// input too, and not only on valid JSON (jsontext.Value.IsValid).
func FuzzText(f *testing.F) {
	for _, tt := range walkCases {
		// Big seeds make the fuzzer spend its time minimizing what it
		// finds in them; TestTextMatchesReference covers them.
		if len(tt.in) <= 1024 {
			f.Add([]byte(tt.in))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := Text(b), referenceText(b)
		if !bytes.Equal(got, want) {
			valid := "invalid"
			if jsontext.Value(b).IsValid() {
				valid = "valid"
			}
			t.Fatalf("Text(%q) (%s JSON) = %q, want %q", b, valid, got, want)
		}
	})
}
