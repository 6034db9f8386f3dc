package openai

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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

// members returns n members "<prefix>0":0, "<prefix>1":1, ...
func members(prefix string, n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"%s%d":%d`, prefix, i, i)
	}
	return sb.String()
}

// nestNamed wraps inner in n objects, each with a member "s" and then the
// member "o<i>" holding the next, so that the names of the open objects
// outgrow the walker's inline array.
func nestNamed(n int, inner string) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, `{"s":%d,"o%d":`, i, i)
	}
	sb.WriteString(inner)
	for range n {
		sb.WriteString(`,"t":1}`)
	}
	return sb.String()
}

const (
	openAIDelta  = `{"id":"chatcmpl-CMKB4CzjM9AbvNcftqEsFcWBSrZNT","object":"chat.completion.chunk","created":1759436814,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_cbf1785567","choices":[{"index":0,"delta":{"content":" capital"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"GR2ZqJGr"}`
	openAIUsage  = `{"id":"chatcmpl-CMKB4CzjM9AbvNcftqEsFcWBSrZNT","object":"chat.completion.chunk","created":1759436814,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_cbf1785567","choices":[],"usage":{"prompt_tokens":14,"completion_tokens":8,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":5,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"obfuscation":""}`
	azureFilter  = `{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]}`
	prettyAnswer = "{\n  \"id\": \"chatcmpl-1\",\n  \"object\": \"chat.completion\",\n  \"model\": \"gpt-4o\",\n  \"choices\": [\n    {\n      \"index\": 0,\n      \"message\": {\"role\": \"assistant\", \"content\": \"Hi\"},\n      \"finish_reason\": \"stop\"\n    }\n  ],\n  \"usage\": {\n    \"prompt_tokens\": 14,\n    \"completion_tokens\": 8,\n    \"total_tokens\": 22,\n    \"prompt_tokens_details\": {\"cached_tokens\": 4},\n    \"completion_tokens_details\": {\"reasoning_tokens\": 2}\n  }\n}\n"
)

// scanCases are inputs on which ScanChunk and ScanResponse must agree with
// refScanChunk and refScanResponse: the shapes the gateway sees and the
// corners of JSON a hand-written walker gets wrong. Their truncations are
// checked too, and they seed the fuzzers. TestScanFixturesMatchReference
// adds the recorded fixtures.
var scanCases = []struct{ name, in string }{
	{"openai delta", openAIDelta},
	{"openai usage", openAIUsage},
	{"usage first", `{"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":{"reasoning_tokens":1}},"choices":[],"model":"m"}`},
	{"azure prompt filter", azureFilter},
	{"azure filtered delta", `{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"Capital"},"finish_reason":null,"index":0,"logprobs":null}],"created":1762317021,"id":"chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt","model":"gpt-5-nano-2025-08-07","obfuscation":"NNpA6Dj2U","object":"chat.completion.chunk","system_fingerprint":null,"usage":null}`},
	{"pretty answer", prettyAnswer},
	{"tool call delta", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},"finish_reason":"tool_calls"}]}`},

	// Error events.
	{"error event", `{"error":{"message":"overloaded","type":"server_error","param":null,"code":502}}`},
	{"error null", `{"error":null}`},
	{"error string", `{"error":"model \"x\" not found","choices":[]}`},
	{"error after choices", `{"choices":[{"finish_reason":"stop"}],"error":{"message":"late"}}`},
	{"nested error", `{"choices":[{"error":{},"finish_reason":"length"}],"x":{"error":1}}`},

	// Names and values with escapes.
	{"escaped usage name", `{"\u0075sage":{"prompt\u005ftokens":7,"total_tokens":7},"choi\u0063es":[]}`},
	{"escaped finish name", `{"choices":[{"finish\u005freason":"stop"}]}`},
	{"escaped finish reason", `{"choices":[{"finish_reason":"st\u006fp"}]}`},
	{"escaped unknown finish reason", `{"choices":[{"finish_reason":"eos\u0021"}]}`},
	{"escaped long finish reason", `{"choices":[{"finish_reason":"a very long finish reason that does not fit \u0021\n\ud83d\ude00"}]}`},
	{"escaped model", `{"mod\u0065l":"gpt\u002d4o\/mini \ud83d\ude00 \"q\" \\ \u00e9\t","usage":null}`},
	{"escaped error name", `{"\u0065rror":{}}`},
	{"escaped details names", `{"usage":{"prompt_tokens_detail\u0073":{"cached\u005ftokens":9},"completion_tokens_details":{"\u0072easoning_tokens":8}}}`},
	{"long escaped name", `{"\u0075\u0073\u0061\u0067\u0065\u0075\u0073\u0061\u0067\u0065\u0075\u0073\u0061\u0067\u0065\u0075\u0073\u0061\u0067\u0065\u0075\u0073\u0061\u0067\u0065\u0075\u0073\u0061\u0067\u0065\u0075\u0073\u0061\u0067\u0065":1,"usage":{"total_tokens":1}}`},
	{"name with escaped quote", `{"usage\"":{"total_tokens":1},"model\\":"x","choices\/":[]}`},
	{"finish reason raw unicode", `{"choices":[{"finish_reason":"stöp ☕"}]}`},
	{"known finish reasons", `{"choices":[{"finish_reason":"function_call"}]}`},
	{"empty finish reason", `{"choices":[{"finish_reason":""}]}`},
	{"empty model", `{"model":""}`},

	// Duplicate names, which getDecoder's decoder rejects in any object.
	{"duplicate top", `{"a":1,"a":2}`},
	{"duplicate usage", `{"usage":null,"usage":{"total_tokens":1}}`},
	{"duplicate choices", `{"choices":[],"choices":[{"finish_reason":"stop"}]}`},
	{"duplicate model", `{"model":"a","model":"b"}`},
	{"duplicate error", `{"error":1,"error":2}`},
	{"duplicate finish reason", `{"choices":[{"finish_reason":"stop","finish_reason":null}]}`},
	{"duplicate count", `{"usage":{"prompt_tokens":1,"prompt_tokens":2}}`},
	{"duplicate in details", `{"usage":{"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":1}}}`},
	{"duplicate deep", `{"x":{"y":[{"a":1,"b":{"c":1},"a":2}]}}`},
	{"duplicate in second choice", `{"choices":[{"finish_reason":"stop"},{"index":1,"index":1}]}`},
	{"duplicate escaped", `{"a":1,"\u0061":2}`},
	{"duplicate escaped first", `{"\u0061":1,"a":2}`},
	{"duplicate both escaped", `{"\u0061":1,"\u0061":2}`},
	{"duplicate solidus", `{"/":1,"\/":2}`},
	{"duplicate newline", `{"\n":1,"\u000a":2}`},
	{"duplicate e acute", `{"é":1,"\u00e9":2}`},
	{"duplicate e acute upper hex", `{"\u00E9":1,"\u00e9":2}`},
	{"duplicate emoji", `{"😀":1,"\ud83d\ude00":2}`},
	{"duplicate empty", `{"":1,"":2}`},
	{"not duplicate prefix", `{"a":1,"ab":2,"\u0061b\u0063":3,"a\u0000":4,"\u0000":5,"":6,"b":{"a":1,"ab":2},"c":[{"a":1},{"a":1}]}`},
	{"not duplicate escapes", `{"\u00e9":1,"\u00e8":2,"\ud83d\ude00":3,"\ud83d\ude01":4,"\n":5,"\r":6,"\"":7,"\\":8,"\/":9,"\b":10,"\f":11,"\t":12}`},
	{"same name in nested objects", `{"a":{"a":{"a":1}},"b":{"a":2},"usage":{"usage":{"usage":null}}}`},
	{"name reused after nested close", `{"a":{"b":1,"c":{"d":1}},"b":2,"c":3,"d":4}`},
	{"name repeated after nested close", `{"a":{"b":1},"b":2,"a":3}`},
	{"many names", `{` + members("m", 70) + `,"usage":{"total_tokens":5},"model":"x"}`},
	{"many names duplicate at end", `{` + members("m", 70) + `,"m3":0}`},
	{"many names duplicate after switch", `{` + members("m", 64) + `,"x":1,"x":2}`},
	{"many names duplicate at switch", `{` + members("m", 64) + `,"m0":1}`},
	{"many names duplicate at 65", `{` + members("m", 65) + `,"m64":1}`},
	{"many escaped names", `{"\u0061":1,` + members("m", 70) + `,"\u0062":1,"a\u0063":1,"b":2}`},
	{"many escaped names duplicate", `{"\u0061":1,` + members("m", 70) + `,"a":2}`},
	{"many escaped names duplicate later", `{` + members("m", 70) + `,"\u0061":1,"a":2}`},
	{"many names usage", `{"usage":{` + members("u", 70) + `,"prompt_tokens":3,"total_tokens":3}}`},
	{"many names in choice", `{"choices":[{` + members("c", 70) + `,"finish_reason":"length"}]}`},
	{"many names nested", `{"x":{` + members("m", 70) + `,"y":{` + members("m", 70) + `}},"model":"m"}`},
	{"names spill", `{"usage":{"total_tokens":4},"x":` + nestNamed(40, `{"a":1,"b":2}`) + `,"model":"m"}`},
	{"names spill duplicate", `{"x":` + nestNamed(40, `{"a":1,"a":2}`) + `}`},
	{"names spill duplicate after", `{"x":` + nestNamed(40, `{"a":1}`) + `,"x":1}`},
	{"names spill then many", `{"x":` + nestNamed(40, `{`+members("m", 70)+`,"m69":1}`) + `}`},

	// Usage in various shapes.
	{"null usage", `{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}],"usage":null}`},
	{"usage string", `{"usage":"none","choices":[]}`},
	{"usage number", `{"usage":5}`},
	{"usage array", `{"usage":[{"prompt_tokens":1}]}`},
	{"usage true", `{"usage":true}`},
	{"usage empty", `{"usage":{}}`},
	{"usage nulls", `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":null,"total_tokens":3,"prompt_tokens_details":null,"completion_tokens_details":null}}`},
	{"usage float timings", `{"choices":[],"usage":{"queue_time":0.19,"prompt_tokens":30,"completion_tokens":10,"total_tokens":40,"prompt_time":1e-3},"x_groq":{"usage":{"prompt_tokens":1.5}}}`},
	{"usage string counts", `{"usage":{"prompt_tokens":"5","completion_tokens":true,"total_tokens":{"n":1.5},"prompt_tokens_details":"x","completion_tokens_details":[1.5]}}`},
	{"usage integral floats", `{"usage":{"prompt_tokens":1.0,"completion_tokens":1e3,"total_tokens":1E2,"prompt_tokens_details":{"cached_tokens":-0},"completion_tokens_details":{"reasoning_tokens":0.0e5}}}`},
	{"usage negative", `{"usage":{"prompt_tokens":-5,"completion_tokens":-0.0,"total_tokens":-1e1}}`},
	{"usage max int", `{"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":-9223372036854775808,"total_tokens":123456789012345678}}`},
	{"usage too big", `{"usage":{"prompt_tokens":9223372036854775808}}`},
	{"usage too big float", `{"usage":{"prompt_tokens":9.3e18}}`},
	{"usage huge exponent", `{"usage":{"total_tokens":1e400}}`},
	{"usage tiny exponent", `{"usage":{"total_tokens":1e-400}}`},
	{"usage big exact float", `{"usage":{"total_tokens":9.2e18,"prompt_tokens":1234567890123456789012e-3}}`},
	{"usage fraction", `{"usage":{"prompt_tokens":1.5}}`},
	{"usage fraction in details", `{"usage":{"prompt_tokens_details":{"cached_tokens":0.5}}}`},
	{"usage fraction in other details member", `{"usage":{"prompt_tokens_details":{"audio_tokens":0.5,"cached_tokens":2},"completion_tokens_details":{"cached_tokens":0.5}}}`},
	{"usage fraction then bad syntax", `{"usage":{"prompt_tokens":1.5,}}`},
	{"usage long fraction", `{"usage":{"prompt_tokens":1.00000000000000000000000000000000000000000000000000001}}`},
	{"usage in choice ignored", `{"choices":[{"usage":{"prompt_tokens":1.5},"finish_reason":"stop"}]}`},
	{"usage details arrays", `{"usage":{"prompt_tokens_details":[{"cached_tokens":1}],"completion_tokens_details":null,"total_tokens":null}}`},
	{"usage deep inside", `{"usage":{"extra":` + nest(50, `1.5`) + `,"total_tokens":2}}`},

	// Choices.
	{"choices null", `{"choices":null}`},
	{"choices object", `{"choices":{"finish_reason":"stop"}}`},
	{"choices string", `{"choices":"[]"}`},
	{"choices empty with space", "{\"choices\":[ \n\t]}"},
	{"choices scalar first", `{"choices":[1,{"finish_reason":"stop"}]}`},
	{"choices null first", `{"choices":[null,{"finish_reason":"stop"}]}`},
	{"choices array first", `{"choices":[[{"finish_reason":"stop"}],{"finish_reason":"stop"}]}`},
	{"choices empty object", `{"choices":[{}]}`},
	{"choices second finish", `{"choices":[{"index":0,"finish_reason":null},{"index":1,"finish_reason":"length"}]}`},
	{"choices finish non-string", `{"choices":[{"finish_reason":1},{"finish_reason":"x"}]}`},
	{"choices finish object", `{"choices":[{"finish_reason":{"finish_reason":"stop"}}]}`},
	{"choices many", `{"choices":[{"finish_reason":"stop"},{},[],1,"x",null,true,false,{"a":[]}]}`},
	{"choices nested deep", `{"choices":[{"delta":` + nest(100, `{}`) + `,"finish_reason":"content_filter"}]}`},

	// Model.
	{"model null", `{"model":null,"usage":{"total_tokens":1}}`},
	{"model number", `{"model":4}`},
	{"model object", `{"model":{"model":"x"}}`},
	{"model nested ignored", `{"choices":[{"model":"x"}],"x":{"model":"y"}}`},
	{"model unicode", `{"model":"模型-☕"}`},

	// Numbers and literals.
	{"numbers", `{"a":[0,-0,1,-1,10,0.5,1e3,1E-3,1.5e+3,-12.34e-56,123456789012345678901234567890,0e0,0E+0,-0.0e-0],"model":"m"}`},
	{"bad number leading zero", `{"a":01}`},
	{"bad number dot", `{"a":1.}`},
	{"bad number dot exp", `{"a":1.e5}`},
	{"bad number exp", `{"a":1e}`},
	{"bad number exp sign", `{"a":1e+}`},
	{"bad number minus", `{"a":-}`},
	{"bad number minus letter", `{"a":-a}`},
	{"bad number plus", `{"a":+1}`},
	{"bad number hex", `{"a":0x1}`},
	{"bad number leading dot", `{"a":.5}`},
	{"bad number count", `{"usage":{"total_tokens":01}}`},
	{"bad number count minus", `{"usage":{"total_tokens":-}}`},
	{"bad number count dot", `{"usage":{"total_tokens":2.}}`},
	{"number then letter", `{"a":1x}`},
	{"count then letter", `{"usage":{"total_tokens":1x}}`},
	{"literals", `{"a":[true,false,null],"b":true,"c":false,"d":null}`},
	{"bad literal", `{"a":nul}`},
	{"bad literal true", `{"a":tru}`},
	{"bad literal false", `{"a":fals }`},
	{"literal with tail", `{"a":truex}`},
	{"literal with digit", `{"a":null1}`},
	{"capital literal", `{"a":True}`},
	{"bad value", `{"a":x}`},
	{"nan", `{"a":NaN}`},

	// Strings.
	{"escaped values", `{"content":"tab\there \"quoted\" back\\slash \/ \b\f\n\r nul\u0000 \u00e9 \u20AC \ud83d\ude00 \uD83D\uDE00 \u2028","model":"m"}`},
	{"raw unicode", `{"content":"café ☕ 😀 ｆｕｌｌ","x":"` + "\x7f" + `"}`},
	{"lone high surrogate", `{"a":"\ud83d"}`},
	{"lone high surrogate in name", `{"\ud83d":1}`},
	{"lone low surrogate", `{"a":"\ude00x"}`},
	{"reversed surrogates", `{"a":"\ude00\ud83d"}`},
	{"high surrogate then bmp escape", `{"a":"\ud83d\u0041"}`},
	{"high surrogate then high", `{"a":"\ud83d\ud83d"}`},
	{"high surrogate then plain", `{"a":"\ud83dxxxxxx"}`},
	{"high surrogate then bad escape", `{"a":"\ud83d\x0000"}`},
	{"high surrogate truncated pair", `{"a":"\ud83d\ude0"}`},
	{"bad escape", `{"a":"\x"}`},
	{"bad escape capital u", `{"a":"\U0041"}`},
	{"bad escape single quote", `{"a":"\'"}`},
	{"bad hex escape", `{"a":"\u12G4"}`},
	{"short hex escape", `{"a":"\u12"}`},
	{"control character", "{\"a\":\"a\tb\"}"},
	{"control character nul", "{\"a\":\"a\x00b\"}"},
	{"control character in name", "{\"a\nb\":1}"},
	{"control character in model", "{\"model\":\"a\x1fb\"}"},
	{"control character in finish", "{\"choices\":[{\"finish_reason\":\"st\nop\"}]}"},
	{"escaped finish reason bad", `{"choices":[{"finish_reason":"st\qop"}]}`},
	{"escaped model bad", `{"model":"\ud800"}`},
	{"invalid utf8", "{\"a\":\"a\xffb\"}"},
	{"invalid utf8 truncated", "{\"a\":\"a\xc3\"}"},
	{"invalid utf8 overlong", "{\"a\":\"\xc0\xaf\"}"},
	{"invalid utf8 surrogate", "{\"a\":\"\xed\xa0\x80\"}"},
	{"invalid utf8 too large", "{\"a\":\"\xf4\x90\x80\x80\"}"},
	{"invalid utf8 continuation", "{\"a\":\"\x80\"}"},
	{"invalid utf8 in name", "{\"\xff\":1}"},
	{"invalid utf8 in model", "{\"model\":\"\xe2\x82\"}"},
	{"invalid utf8 in finish", "{\"choices\":[{\"finish_reason\":\"\xe2\x82\"}]}"},
	{"utf8 replacement char", "{\"model\":\"\xef\xbf\xbd\"}"},
	{"utf8 max", "{\"model\":\"\xf4\x8f\xbf\xbf\"}"},
	{"long string", `{"model":"` + strings.Repeat("abcdefgh", 100) + `","x":"` + strings.Repeat("é\\n", 100) + `"}`},

	// Whitespace.
	{"whitespace", " \t\r\n{ \t\r\n\"model\" \t\r\n: \t\r\n\"a\" \t\r\n, \"choices\" : [ { \"finish_reason\" : \"stop\" } , 1 ] , \"usage\" : { \"total_tokens\" : 3 } \n} \t\r\n"},
	{"vertical tab", "{\"model\":\"a\",\v\"x\":1}"},
	{"nbsp", "{\"model\":\"a\",\u00a0\"x\":1}"},
	{"form feed", "{\f\"model\":\"a\"}"},
	{"bom", "\ufeff{\"model\":\"a\"}"},
	{"trailing nbsp", "{\"model\":\"a\"}\u00a0"},
	{"trailing nul", "{\"model\":\"a\"}\x00"},

	// Structure.
	{"empty object", `{}`},
	{"empty containers", `{"a":{},"b":[],"c":[{}],"d":[[]],"e":[[],{}]}`},
	{"trailing comma in object", `{"a":1,}`},
	{"trailing comma in array", `{"a":[1,]}`},
	{"trailing comma in choices", `{"choices":[{},]}`},
	{"leading comma", `{,"a":1}`},
	{"leading comma in array", `{"a":[,1]}`},
	{"leading comma in choices", `{"choices":[,1]}`},
	{"double comma", `{"a":1,,"b":2}`},
	{"missing comma", `{"a":1 "b":2}`},
	{"missing comma in array", `{"a":[1 2]}`},
	{"missing colon", `{"a" 1}`},
	{"double colon", `{"a"::1}`},
	{"colon for comma", `{"a":1:"b":2}`},
	{"comma for colon", `{"a",1}`},
	{"non string name", `{"a":1,2:3}`},
	{"unquoted name", `{"a":1,b:2}`},
	{"single quotes", `{'a':1}`},
	{"missing value", `{"a":,"b":1}`},
	{"missing value at end", `{"a":}`},
	{"missing value in usage", `{"usage":{"total_tokens":}}`},
	{"missing value in choice", `{"choices":[{"finish_reason":}]}`},
	{"mismatched close", `{"a":[1}]}`},
	{"mismatched close object", `{"a":{"b":1]}}`},
	{"mismatched close choices", `{"choices":[{"finish_reason":"stop"}}}`},
	{"extra close", `{"a":1}}`},
	{"two objects", `{"a":1}{"b":2}`},
	{"object then array", `{"a":1}[]`},
	{"trailing garbage", `{"a":1} garbage`},
	{"trailing comma", `{"a":1},`},
	{"comment", `{"a":1/* c */}`},
	{"line comment", "{\"a\":1}// c\n"},
	{"nul byte", "{\"a\":1\x00}"},

	// Top level.
	{"done sentinel", `[DONE]`},
	{"top array", `[{"choices":[]}]`},
	{"top empty array", `[]`},
	{"top string", `"usage"`},
	{"top number", `42`},
	{"top negative", `-1`},
	{"top true", `true`},
	{"top false", `false`},
	{"top null", `null`},
	{"top garbage", `<html>502 Bad Gateway</html>`},
	{"empty", ``},
	{"only space", " \n\t\r"},
	{"only open", `{`},
	{"only close", `}`},
	{"sse line", `data: {"choices":[]}`},

	// Depth: jsontext allows 10000 levels, counting the top-level object.
	{"deep arrays ok", `{"a":` + nest(maxDepth-1, `1`) + `,"model":"m"}`},
	{"deep arrays too deep", `{"a":` + nest(maxDepth, `1`) + `,"model":"m"}`},
	{"deep empty arrays ok", `{"a":` + nest(maxDepth-1, ``) + `}`},
	{"deep empty arrays too deep", `{"a":` + nest(maxDepth, ``) + `}`},
	{"deep objects ok", `{"a":` + nestObjects(maxDepth-2, `{}`) + `}`},
	{"deep objects too deep", `{"a":` + nestObjects(maxDepth-1, `{}`) + `}`},
	{"deep choices ok", `{"choices":[{"finish_reason":"stop","d":` + nest(maxDepth-4, `{}`) + `}]}`},
	{"deep choices too deep", `{"choices":[{"finish_reason":"stop","d":` + nest(maxDepth-3, `{}`) + `}]}`},
	{"deep choices array", `{"choices":` + nest(maxDepth-1, ``) + `}`},
	{"deep choices array too deep", `{"choices":` + nest(maxDepth, ``) + `}`},
	{"deep usage ok", `{"usage":{"prompt_tokens_details":` + nestObjects(maxDepth-2, `1`) + `,"total_tokens":1}}`},
	{"deep usage too deep", `{"usage":{"prompt_tokens_details":` + nestObjects(maxDepth-1, `1`) + `,"total_tokens":1}}`},
	{"deep details ok", `{"usage":{"prompt_tokens_details":{"x":` + nestObjects(maxDepth-3, `1`) + `,"cached_tokens":1}}}`},
	{"deep details too deep", `{"usage":{"prompt_tokens_details":{"x":` + nestObjects(maxDepth-2, `1`) + `,"cached_tokens":1}}}`},
}

// checkScan fails t if ScanChunk or ScanResponse disagree with the
// reference on in: in the result, or in whether there is an error.
func checkScan(t *testing.T, in []byte) {
	t.Helper()
	c, err := ScanChunk(in)
	rc, rerr := refScanChunk(in)
	if c != rc || (err == nil) != (rerr == nil) {
		t.Fatalf("ScanChunk(%.300q) = %+v, %v\nreference: %+v, %v", in, c, err, rc, rerr)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "openai: scan chunk: ") {
		t.Fatalf("ScanChunk(%.300q) error %q lacks the package prefix", in, err)
	}
	r, err := ScanResponse(in)
	rr, rerr := refScanResponse(in)
	if r != rr || (err == nil) != (rerr == nil) {
		t.Fatalf("ScanResponse(%.300q) = %+v, %v\nreference: %+v, %v", in, r, err, rr, rerr)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "openai: scan response: ") {
		t.Fatalf("ScanResponse(%.300q) error %q lacks the package prefix", in, err)
	}
}

// checkTruncations runs checkScan on the prefixes of in, as when an
// upstream hangs up midway: all of them, or for an input longer than 4 KiB
// (the deep ones, and big fixtures) those that cut its first and last few
// bytes and a few others, fewer past 16 KiB where the reference is slow.
func checkTruncations(t *testing.T, in []byte) {
	t.Helper()
	if len(in) <= 4096 {
		for n := range len(in) {
			checkScan(t, in[:n])
		}
		return
	}
	head, tail, spread := 16, 64, 8
	if len(in) > 16<<10 {
		head, tail, spread = 4, 16, 4
	}
	for n := range head {
		checkScan(t, in[:n])
	}
	for n := range tail {
		checkScan(t, in[:len(in)-1-n])
	}
	for k := range spread {
		checkScan(t, in[:head+k*(len(in)-head-tail)/spread])
	}
}

func TestScanMatchesReference(t *testing.T) {
	seen := map[string]bool{}
	for _, tt := range scanCases {
		if seen[tt.name] {
			t.Fatalf("two scan cases named %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := []byte(tt.in)
			checkScan(t, in)
			checkTruncations(t, in)
			// The same with whitespace around it, and in a chunk's
			// first choice and an answer's usage.
			checkScan(t, []byte(" \n"+tt.in+"\r\n\t"))
			checkScan(t, []byte(`{"choices":[`+tt.in+`]}`))
			checkScan(t, []byte(`{"usage":`+tt.in+`,"model":"m"}`))
			checkScan(t, []byte(`{"usage":{"prompt_tokens_details":`+tt.in+`}}`))
		})
	}
}

// fixtureInputs returns every JSON body and every SSE data line in the
// shared fixtures, of every provider, keyed by a name.
func fixtureInputs(t testing.TB) map[string][]byte {
	t.Helper()
	data := regexp.MustCompile(`(?m)^data: ?(.*?)\r?$`)
	out := map[string][]byte{}
	err := filepath.WalkDir(fixtures, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, _ := filepath.Rel(fixtures, path)
		switch filepath.Ext(path) {
		case ".json":
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[name] = b
		case ".sse":
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, m := range data.FindAllSubmatch(b, -1) {
				out[fmt.Sprintf("%s#%d", name, i)] = m[1]
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 100 {
		t.Fatalf("found only %d fixture inputs in %s", len(out), fixtures)
	}
	return out
}

func TestScanFixturesMatchReference(t *testing.T) {
	for name, in := range fixtureInputs(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkScan(t, in)
			checkTruncations(t, in)
		})
	}
}

// TestScanEdges pins what the scanners find in some of scanCases, lest
// both they and the reference agree on nothing.
func TestScanEdges(t *testing.T) {
	type result struct {
		c      Chunk
		r      Response
		errSub string // "" for no error; else in both errors
	}
	for _, tt := range []struct {
		name string
		want result
	}{
		{"openai usage", result{c: Chunk{Usage: Usage{14, 8, 22, 3, 5}, HasUsage: true, NoChoices: true}, r: Response{Usage{14, 8, 22, 3, 5}, true, "gpt-4o-2024-08-06"}}},
		{"pretty answer", result{c: Chunk{Usage: Usage{14, 8, 22, 4, 2}, HasUsage: true, FinishReason: "stop"}, r: Response{Usage{14, 8, 22, 4, 2}, true, "gpt-4o"}}},
		{"azure prompt filter", result{c: Chunk{NoChoices: true}}},
		{"error null", result{c: Chunk{IsError: true}}},
		{"escaped usage name", result{c: Chunk{Usage: Usage{PromptTokens: 7, TotalTokens: 7}, HasUsage: true, NoChoices: true}, r: Response{Usage{PromptTokens: 7, TotalTokens: 7}, true, ""}}},
		{"escaped finish reason", result{c: Chunk{FinishReason: "stop"}}},
		{"escaped long finish reason", result{c: Chunk{FinishReason: "a very long finish reason that does not fit !\n😀"}}},
		{"escaped model", result{r: Response{Model: "gpt-4o/mini 😀 \"q\" \\ é\t"}}},
		{"escaped details names", result{c: Chunk{Usage: Usage{CachedTokens: 9, ReasoningTokens: 8}, HasUsage: true}, r: Response{Usage{CachedTokens: 9, ReasoningTokens: 8}, true, ""}}},
		{"duplicate escaped", result{errSub: "at byte 7: duplicate object member name \"\\u0061\""}},
		{"duplicate emoji", result{errSub: "duplicate object member name"}},
		{"not duplicate prefix", result{}},
		{"not duplicate escapes", result{}},
		{"name repeated after nested close", result{errSub: "at byte 19: duplicate"}},
		{"many names", result{c: Chunk{Usage: Usage{TotalTokens: 5}, HasUsage: true}, r: Response{Usage{TotalTokens: 5}, true, "x"}}},
		{"many names duplicate at end", result{errSub: "duplicate"}},
		{"many escaped names duplicate later", result{errSub: "duplicate"}},
		{"names spill", result{c: Chunk{Usage: Usage{TotalTokens: 4}, HasUsage: true}, r: Response{Usage{TotalTokens: 4}, true, "m"}}},
		{"names spill duplicate", result{errSub: "duplicate"}},
		{"usage integral floats", result{c: Chunk{Usage: Usage{1, 1000, 100, 0, 0}, HasUsage: true}, r: Response{Usage{1, 1000, 100, 0, 0}, true, ""}}},
		{"usage max int", result{c: Chunk{Usage: Usage{9223372036854775807, -9223372036854775808, 123456789012345678, 0, 0}, HasUsage: true}, r: Response{Usage{9223372036854775807, -9223372036854775808, 123456789012345678, 0, 0}, true, ""}}},
		{"usage fraction", result{errSub: "token count is not an integer: 1.5 at byte 26"}},
		{"usage huge exponent", result{errSub: "token count is not an integer: 1e400"}},
		{"usage fraction in other details member", result{c: Chunk{Usage: Usage{CachedTokens: 2}, HasUsage: true}, r: Response{Usage{CachedTokens: 2}, true, ""}}},
		{"usage in choice ignored", result{c: Chunk{FinishReason: "stop"}}},
		{"choices empty with space", result{c: Chunk{NoChoices: true}}},
		{"choices scalar first", result{}},
		{"model null", result{c: Chunk{Usage: Usage{TotalTokens: 1}, HasUsage: true}, r: Response{Usage{TotalTokens: 1}, true, ""}}},
		{"lone high surrogate", result{errSub: `at byte 6: unpaired UTF-16 surrogate \ud83d in a string`}},
		{"control character", result{errSub: `at byte 7: control character "\t" in a string`}},
		{"invalid utf8", result{errSub: "at byte 7: invalid UTF-8 byte 0xff in a string"}},
		{"bad escape", result{errSub: `at byte 6: invalid escape "\\x\"}" in a string`}},
		{"bad number dot", result{errSub: `at byte 7: invalid character "}" in a number, expected a digit`}},
		{"bad literal", result{errSub: `at byte 8: invalid character "}" in the literal null`}},
		{"missing comma", result{errSub: `at byte 7: invalid character "\"", expected ',' or '}' after an object member`}},
		{"missing colon", result{errSub: `at byte 5: invalid character "1", expected ':' after a member name`}},
		{"trailing comma in object", result{errSub: `at byte 7: invalid character "}", expected a member name (a string)`}},
		{"missing value", result{errSub: `at byte 5: invalid character ",", expected a value`}},
		{"mismatched close", result{errSub: `at byte 7: invalid character "}", expected ',' or ']' after an array element`}},
		{"two objects", result{errSub: "at byte 7: unexpected data after the top-level value"}},
		{"only open", result{errSub: "at byte 1: unexpected end of input, expected a member name"}},
		{"done sentinel", result{errSub: "expected a JSON object at byte 0, got an array"}},
		{"top garbage", result{errSub: `expected a JSON object at byte 0, got the character "<"`}},
		{"bom", result{errSub: `expected a JSON object at byte 0, got the character "\ufeff"`}},
		{"empty", result{errSub: "empty input, expected a JSON object"}},
		{"deep arrays ok", result{r: Response{Model: "m"}}},
		{"deep arrays too deep", result{errSub: fmt.Sprintf("at byte %d: nested more than 10000 levels deep", 5+maxDepth-1)}},
		{"deep objects ok", result{}},
		{"deep objects too deep", result{errSub: "nested more than 10000 levels deep"}},
		{"deep choices ok", result{c: Chunk{FinishReason: "stop"}}},
		{"deep choices too deep", result{errSub: "nested more than 10000 levels deep"}},
		{"deep usage ok", result{c: Chunk{Usage: Usage{TotalTokens: 1}, HasUsage: true}, r: Response{Usage{TotalTokens: 1}, true, ""}}},
		{"deep usage too deep", result{errSub: "nested more than 10000 levels deep"}},
		{"deep details ok", result{c: Chunk{Usage: Usage{CachedTokens: 1}, HasUsage: true}, r: Response{Usage{CachedTokens: 1}, true, ""}}},
		{"deep details too deep", result{errSub: "nested more than 10000 levels deep"}},
		{"deep choices array", result{}},
		{"deep choices array too deep", result{errSub: "nested more than 10000 levels deep"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			i := -1
			for j, c := range scanCases {
				if c.name == tt.name {
					i = j
				}
			}
			if i < 0 {
				t.Fatalf("no scan case %q", tt.name)
			}
			in := []byte(scanCases[i].in)
			c, cerr := ScanChunk(in)
			r, rerr := ScanResponse(in)
			if tt.want.errSub == "" {
				if cerr != nil || rerr != nil {
					t.Fatalf("errors %v, %v; want none", cerr, rerr)
				}
				if c != tt.want.c {
					t.Errorf("ScanChunk = %+v, want %+v", c, tt.want.c)
				}
				if r != tt.want.r {
					t.Errorf("ScanResponse = %+v, want %+v", r, tt.want.r)
				}
				return
			}
			for _, err := range []error{cerr, rerr} {
				if err == nil || !strings.Contains(err.Error(), tt.want.errSub) {
					t.Errorf("error %v, want one containing %q", err, tt.want.errSub)
				}
			}
		})
	}
}

func TestScanErrorClasses(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want error
	}{
		{`{"usage":{"total_tokens":2.5}}`, errTokenCount},
		{`{"x":{"a":1,"a":2}}`, jsontext.ErrDuplicateName},
		{`{"x":1} x`, errTrailingData},
	} {
		if _, err := ScanChunk([]byte(tt.in)); !errors.Is(err, tt.want) {
			t.Errorf("ScanChunk(%s) = %v, want %v", tt.in, err, tt.want)
		}
		if _, err := ScanResponse([]byte(tt.in)); !errors.Is(err, tt.want) {
			t.Errorf("ScanResponse(%s) = %v, want %v", tt.in, err, tt.want)
		}
	}
}

// TestScanAllocs checks that ScanChunk does not allocate on the chunks of
// the fixtures and ScanResponse allocates only the model on their bodies,
// and that neither allocates more than the reference on any well-formed
// input.
func TestScanAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race")
	}
	inputs := fixtureInputs(t)
	for _, tt := range scanCases {
		if len(tt.in) < 4096 {
			inputs[tt.name] = []byte(tt.in)
		}
	}
	for name, in := range inputs {
		if _, err := ScanResponse(in); err != nil {
			continue // errors may allocate
		}
		fixture := strings.Contains(name, "/")
		got := testing.AllocsPerRun(10, func() { ScanChunk(in) })
		want := testing.AllocsPerRun(10, func() { refScanChunk(in) })
		if fixture && strings.HasSuffix(name, ".sse") {
			want = 0
		}
		if got > want {
			t.Errorf("ScanChunk(%s) allocates %v times, want at most %v", name, got, want)
		}
		got = testing.AllocsPerRun(10, func() { ScanResponse(in) })
		want = testing.AllocsPerRun(10, func() { refScanResponse(in) })
		if fixture && strings.HasSuffix(name, ".json") {
			want = 1
		}
		if got > want {
			t.Errorf("ScanResponse(%s) allocates %v times, want at most %v", name, got, want)
		}
	}
}

// TestNameEqual checks the comparison of escaped names against unquoting.
func TestNameEqual(t *testing.T) {
	names := []string{`a`, `\u0061`, `ab`, `a\u0062`, `\u0061\u0062`, ``, `\u0000`, `a\u0000`, `/`, `\/`, `\n`, `\u000a`, `\u000A`, `é`, `\u00e9`, `\u00E9`, `😀`, `\ud83d\ude00`, `\uD83D\uDE00`, `\ud83d\ude01`, `\"`, `\\`, `\b\f\r\t`, `\u0008\u000c\u000d\u0009`, `abcd`, `abc\u0064`, `\u0061bcde\u0066gh`, `abcdefgh`, `\u00e9\u00e9`, `éé`, `\ud83d\ude00\ud83d\ude00`}
	for _, x := range names {
		for _, y := range names {
			ux, err := jsontext.AppendUnquote(nil, `"`+x+`"`)
			if err != nil {
				t.Fatal(err)
			}
			uy, _ := jsontext.AppendUnquote(nil, `"`+y+`"`)
			if got, want := nameEqual([]byte(x), []byte(y)), bytes.Equal(ux, uy); got != want {
				t.Errorf("nameEqual(%s, %s) = %v, want %v", x, y, got, want)
			}
			if got := unquoteString([]byte(x)); got != string(ux) {
				t.Errorf("unquoteString(%s) = %q, want %q", x, got, ux)
			}
			if got, want := escapedFingerprint([]byte(x)), fingerprint(ux); got != want {
				t.Errorf("escapedFingerprint(%s) = %#x, want %#x", x, got, want)
			}
		}
	}
}

// FuzzScanResponse checks ScanResponse, and ScanChunk, against the
// reference on any input: the walker checks its input as strictly as the
// decoder the reference uses, so they agree on invalid input too.
func FuzzScanResponse(f *testing.F) {
	addScanSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkScan(t, b)
	})
}

// addScanSeeds adds the short scanCases to the corpus of f. Big seeds make
// the fuzzer spend its time minimizing what it finds in them;
// TestScanMatchesReference covers them.
func addScanSeeds(f *testing.F) {
	for _, tt := range scanCases {
		if len(tt.in) <= 1024 {
			f.Add([]byte(tt.in))
		}
	}
}
