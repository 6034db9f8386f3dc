package pii

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func allRedact(t testing.TB, extra ...Rule) *Redactor {
	t.Helper()
	rules := []Rule{
		{Name: "ssn", Action: ActionRedact},
		{Name: "email", Action: ActionRedact},
		{Name: "phone", Action: ActionRedact},
		{Name: "credit_card", Action: ActionRedact},
		{Name: "iban", Action: ActionRedact},
		{Name: "ip", Action: ActionRedact},
	}
	r, err := New(append(rules, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDetectors(t *testing.T) {
	r := allRedact(t)
	tests := []struct {
		name, in, want string
	}{
		// ssn
		{"ssn dashes", "my ssn is 123-45-6789.", "my ssn is [REDACTED_SSN]."},
		{"ssn spaces", "ssn 123 45 6789 ok", "ssn [REDACTED_SSN] ok"},
		{"ssn area 000", "000-12-3456", "000-12-3456"},
		{"ssn area 666", "666-12-3456", "666-12-3456"},
		{"ssn area 9xx", "912-12-3456", "912-12-3456"},
		{"ssn group 00", "123-00-4567", "123-00-4567"},
		{"ssn serial 0000", "123-45-0000", "123-45-0000"},
		{"ssn mixed separators", "123-45 6789", "123-45 6789"},
		{"ssn plain 9 digits", "123456789", "123456789"},
		{"ssn longer run", "1123-45-6789 and 123-45-67890", "1123-45-6789 and 123-45-67890"},
		// email
		{"email", "write to john.doe@example.com.", "write to [REDACTED_EMAIL]."},
		{"email plus subdomain", "<a+b@mail.example.co.uk>", "<[REDACTED_EMAIL]>"},
		{"email no tld", "user@localhost", "user@localhost"},
		{"email numeric tld", "foo@bar.c1", "foo@bar.c1"},
		{"email no local", "@example.com handle", "@example.com handle"},
		{"email twice", "a@b.io, c@d.io", "[REDACTED_EMAIL], [REDACTED_EMAIL]"},
		// phone
		{"phone paren", "call (555) 123-4567 now", "call [REDACTED_PHONE] now"},
		{"phone dashes", "call 555-123-4567", "call [REDACTED_PHONE]"},
		{"phone dots", "555.123.4567", "[REDACTED_PHONE]"},
		{"phone 1- prefix", "1-800-555-0199", "[REDACTED_PHONE]"},
		{"phone intl", "ring +44 20 7946 0958, thanks", "ring [REDACTED_PHONE], thanks"},
		{"phone intl parens", "+1 (555) 123-4567", "[REDACTED_PHONE]"},
		{"phone e164", "+14155552671", "[REDACTED_PHONE]"},
		{"phone order id", "order 5551234567 shipped", "order 5551234567 shipped"},
		{"phone intl too short", "+49 123 45", "+49 123 45"},
		{"phone intl too long", "+1234567890123456789", "+1234567890123456789"},
		{"phone date", "2024-01-15", "2024-01-15"},
		// credit card
		{"cc spaces", "card 4111 1111 1111 1111 exp", "card [REDACTED_CREDIT_CARD] exp"},
		{"cc dashes", "4111-1111-1111-1111", "[REDACTED_CREDIT_CARD]"},
		{"cc plain", "4111111111111111", "[REDACTED_CREDIT_CARD]"},
		{"cc amex", "amex 378282246310005.", "amex [REDACTED_CREDIT_CARD]."},
		{"cc then expiry", "4111 1111 1111 1111 12 25", "[REDACTED_CREDIT_CARD] 12 25"},
		{"cc luhn invalid", "4111 1111 1111 1112", "4111 1111 1111 1112"},
		{"cc order id 16 digits", "order 1234567812345678", "order 1234567812345678"},
		{"cc too long run", "41111111111111110000", "41111111111111110000"},
		{"cc after group", "ref 12 4111111111111111", "ref 12 [REDACTED_CREDIT_CARD]"},
		// iban
		{"iban spaced", "IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [REDACTED_IBAN] thanks"},
		{"iban compact", "GB82WEST12345698765432", "[REDACTED_IBAN]"},
		{"iban bad checksum", "DE88 3704 0044 0532 0130 00", "DE88 3704 0044 0532 0130 00"},
		{"iban lowercase", "de89370400440532013000", "de89370400440532013000"},
		// ip
		{"ipv4", "host 192.168.1.10 down", "host [REDACTED_IP] down"},
		{"ipv4 sentence end", "from 10.0.0.1.", "from [REDACTED_IP]."},
		{"ipv4 octet > 255", "999.1.1.1", "999.1.1.1"},
		{"ipv4 five parts", "1.2.3.4.5", "1.2.3.4.5"},
		{"ipv4 version string", "version 1.2.3.4", "version [REDACTED_IP]"},
		{"ipv4 v-prefixed version", "v1.2.3.4", "v1.2.3.4"},
		{"ipv4 leading zero", "01.2.3.4", "01.2.3.4"},
		{"ipv6", "addr 2001:db8::1 up", "addr [REDACTED_IP] up"},
		{"ipv6 full", "fe80:0:0:0:202:b3ff:fe1e:8329", "[REDACTED_IP]"},
		{"ipv6 loopback", "[::1]:8080", "[[REDACTED_IP]]:8080"},
		{"ipv6 mapped", "::ffff:192.0.2.1", "[REDACTED_IP]"},
		{"time not ipv6", "at 12:30:45 today", "at 12:30:45 today"},
		{"cpp not ipv6", "std::vector", "std::vector"},
		// mixed, unicode
		{"mixed", "é 123-45-6789 ü a@b.de 10.1.2.3", "é [REDACTED_SSN] ü [REDACTED_EMAIL] [REDACTED_IP]"},
		{"empty", "", ""},
		{"clean", "nothing to see here, move along.", "nothing to see here, move along."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fs := r.Text(tt.in)
			if got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if (got != tt.in) != (len(fs) > 0) {
				t.Errorf("findings %v inconsistent with change", fs)
			}
		})
	}
}

func TestActions(t *testing.T) {
	const secret = "123-45-6789"
	in := "ssn " + secret + " and mail bob@example.org twice bob@example.org"
	tests := []struct {
		name   string
		rules  []Rule
		want   string
		wantFs []Finding
	}{
		{"redact", []Rule{{Name: "ssn", Action: ActionRedact}, {Name: "email", Action: ActionRedact}},
			"ssn [REDACTED_SSN] and mail [REDACTED_EMAIL] twice [REDACTED_EMAIL]",
			[]Finding{{"ssn", ActionRedact, 1}, {"email", ActionRedact, 2}}},
		{"block", []Rule{{Name: "ssn", Action: ActionBlock}},
			"ssn [REDACTED_SSN] and mail bob@example.org twice bob@example.org",
			[]Finding{{"ssn", ActionBlock, 1}}},
		{"log", []Rule{{Name: "email", Action: ActionLog}, {Name: "ssn", Action: ActionLog}},
			in,
			[]Finding{{"email", ActionLog, 2}, {"ssn", ActionLog, 1}}},
		{"custom", []Rule{{Name: "employee_id", Action: ActionRedact, Pattern: `\bEMP-[0-9]{6}\b`}},
			"ssn 123-45-6789 and mail bob@example.org twice bob@example.org",
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			got, fs := r.Text(in)
			if tt.name == "custom" {
				in2 := "badge EMP-123456, not EMP-1234567"
				got, fs = r.Text(in2)
				if want := "badge [REDACTED_EMPLOYEE_ID], not EMP-1234567"; got != want {
					t.Errorf("got %q want %q", got, want)
				}
				if diff := cmp.Diff([]Finding{{"employee_id", ActionRedact, 1}}, fs); diff != "" {
					t.Errorf("findings (-want +got):\n%s", diff)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %q want %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantFs, fs); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if s := fmt.Sprint(fs) + fmt.Sprintf("%+v %#v", fs, fs); strings.Contains(s, secret) || strings.Contains(s, "bob@") {
				t.Errorf("findings leak value: %s", s)
			}
			if tt.name == "block" {
				f, ok := Blocked(fs)
				if !ok || f.Rule != "ssn" {
					t.Fatalf("Blocked = %v %v", f, ok)
				}
				msg := (&BlockedError{Rule: f.Rule}).Error()
				if !strings.Contains(msg, "ssn") || strings.Contains(msg, secret) {
					t.Errorf("block message %q", msg)
				}
			} else if _, ok := Blocked(fs); ok {
				t.Error("unexpected block")
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		want  string // substring of the error, must name the rule
	}{
		{"unknown builtin", []Rule{{Name: "passport", Action: ActionRedact}}, `"passport"`},
		{"bad regexp", []Rule{{Name: "x", Action: ActionRedact, Pattern: "("}}, `"x"`},
		{"bad action", []Rule{{Name: "ssn", Action: "drop"}}, `"ssn"`},
		{"empty action", []Rule{{Name: "email"}}, `"email"`},
		{"duplicate", []Rule{{Name: "ssn", Action: ActionLog}, {Name: "ssn", Action: ActionBlock}}, `"ssn"`},
		{"empty match", []Rule{{Name: "opt", Action: ActionRedact, Pattern: "a*"}}, `"opt"`},
		{"pattern on builtin", []Rule{{Name: "email", Action: ActionRedact, Pattern: "x"}}, `"email"`},
		{"bad name", []Rule{{Name: "a]b", Action: ActionRedact, Pattern: "x"}}, `"a]b"`},
		{"max match", []Rule{{Name: "c", Action: ActionRedact, Pattern: "x", MaxMatch: -1}}, `"c"`},
		{"empty name", []Rule{{Action: ActionRedact, Pattern: "x"}}, "#1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.rules)
			if err == nil {
				t.Fatalf("New succeeded: %v", r)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %s", err, tt.want)
			}
		})
	}
}

func TestNilRedactor(t *testing.T) {
	r, err := New(nil)
	if err != nil || r != nil {
		t.Fatalf("New(nil) = %v, %v", r, err)
	}
	if got, fs := r.Text("123-45-6789"); got != "123-45-6789" || fs != nil {
		t.Errorf("Text = %q %v", got, fs)
	}
	body := []byte(`{"content":"123-45-6789"}`)
	got, fs, err := r.JSON(body)
	if err != nil || &got[0] != &body[0] || fs != nil {
		t.Errorf("JSON = %s %v %v", got, fs, err)
	}
	s := r.NewStream()
	if got := s.Push("ab") + s.Push("c") + s.Flush(); got != "abc" || s.Findings() != nil {
		t.Errorf("stream = %q", got)
	}
	var ns *Stream
	if ns.Push("x") != "x" || ns.Flush() != "" || ns.Findings() != nil {
		t.Error("nil stream")
	}
}

func TestJSON(t *testing.T) {
	r := allRedact(t, Rule{Name: "secret", Action: ActionBlock, Pattern: `sk-[A-Za-z0-9]{8,}`})
	tests := []struct {
		name, in, want string
		fs             []Finding
	}{
		{
			name: "openai chat",
			in: `{"model":"gpt-4o-123-45-6789","messages":[{"role":"system","content":"be nice"},` +
				`{"role":"user","content":"my ssn is 123-45-6789"},` +
				`{"role":"user","content":[{"type":"text","text":"mail me at a@b.com"},{"type":"image_url","image_url":{"url":"http://10.0.0.1/x.png"}}]}],` +
				"\n  \"temperature\": 0.5, \"user\":\"a@b.com\"}",
			want: `{"model":"gpt-4o-123-45-6789","messages":[{"role":"system","content":"be nice"},` +
				`{"role":"user","content":"my ssn is [REDACTED_SSN]"},` +
				`{"role":"user","content":[{"type":"text","text":"mail me at [REDACTED_EMAIL]"},{"type":"image_url","image_url":{"url":"http://10.0.0.1/x.png"}}]}],` +
				"\n  \"temperature\": 0.5, \"user\":\"a@b.com\"}",
			fs: []Finding{{"ssn", ActionRedact, 1}, {"email", ActionRedact, 1}},
		},
		{
			name: "anthropic",
			in: `{"model":"claude","system":[{"type":"text","text":"operator 555-123-4567"}],"messages":[` +
				`{"role":"user","content":[{"type":"text","text":"ip 192.168.0.1"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"MTIzLTQ1LTY3ODk="}}]},` +
				`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_123-45-6789","name":"lookup","input":{"ssn":"123-45-6789","note":{"text":"x@y.org"}}}]}]}`,
			want: `{"model":"claude","system":[{"type":"text","text":"operator [REDACTED_PHONE]"}],"messages":[` +
				`{"role":"user","content":[{"type":"text","text":"ip [REDACTED_IP]"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"MTIzLTQ1LTY3ODk="}}]},` +
				`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_123-45-6789","name":"lookup","input":{"ssn":"123-45-6789","note":{"text":"[REDACTED_EMAIL]"}}}]}]}`,
			fs: []Finding{{"email", ActionRedact, 1}, {"phone", ActionRedact, 1}, {"ip", ActionRedact, 1}},
		},
		{
			name: "anthropic system string and tool args",
			in:   `{"system":"ops: ops@corp.example","messages":[{"role":"assistant","tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{\"ssn\":\"123-45-6789\"}"}}]}]}`,
			want: `{"system":"ops: [REDACTED_EMAIL]","messages":[{"role":"assistant","tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{\"ssn\":\"[REDACTED_SSN]\"}"}}]}]}`,
			fs:   []Finding{{"ssn", ActionRedact, 1}, {"email", ActionRedact, 1}},
		},
		{
			name: "embeddings input array",
			in:   `{"model":"text-embedding-3","input":["plain","call +44 20 7946 0958",["nested 4111111111111111"],[1,2,3]]}`,
			want: `{"model":"text-embedding-3","input":["plain","call [REDACTED_PHONE]",["nested [REDACTED_CREDIT_CARD]"],[1,2,3]]}`,
			fs:   []Finding{{"phone", ActionRedact, 1}, {"credit_card", ActionRedact, 1}},
		},
		{
			name: "escapes and custom block",
			in:   `{"prompt":"key sk-ABCDEFGH1234 \u00e9\n","partial_json":"{\"e\":\"q@w.io\"}"}`,
			want: `{"prompt":"key [REDACTED_SECRET] é\n","partial_json":"{\"e\":\"[REDACTED_EMAIL]\"}"}`,
			fs:   []Finding{{"email", ActionRedact, 1}, {"secret", ActionBlock, 1}},
		},
		{
			name: "streamed response delta",
			in:   `data-less {"type":"content_block_delta","delta":{"type":"text_delta","text":"ssn 123-45-6789"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fs, err := r.JSON([]byte(tt.in))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("want error, got %s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.fs, fs); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJSONUnchangedAndErrors(t *testing.T) {
	r := allRedact(t)
	clean := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hello there 2024"}],"user":"a@b.com","id":"123-45-6789"}`)
	got, fs, err := r.JSON(clean)
	if err != nil || fs != nil || &got[0] != &clean[0] || len(got) != len(clean) {
		t.Fatalf("clean body: %s %v %v", got, fs, err)
	}
	// log-only findings leave the body as is.
	lr, _ := New([]Rule{{Name: "email", Action: ActionLog}})
	logBody := []byte(`{"content":"x@y.com"}`)
	got, fs, err = lr.JSON(logBody)
	if err != nil || &got[0] != &logBody[0] || len(fs) != 1 {
		t.Fatalf("log body: %s %v %v", got, fs, err)
	}
	for _, bad := range []string{``, `{`, `{"content":"123-45-6789"`, `{"a":1}x`, `{"a":}`, `[1,]`, "{\"content\":\"\xff\"}"} {
		if got, _, err := r.JSON([]byte(bad)); err == nil {
			t.Errorf("JSON(%q) = %q, want error", bad, got)
		}
	}
	if raceEnabled {
		return // sync.Pool drops items at random under the race detector
	}
	allocs := testing.AllocsPerRun(100, func() { _, _, _ = r.JSON(clean) })
	if allocs > 0 {
		t.Errorf("clean JSON allocates %v times", allocs)
	}
	cleanText := "hello there, nothing in 2024 here: model gpt-4o"
	allocs = testing.AllocsPerRun(100, func() { _, _ = r.Text(cleanText) })
	if allocs > 0 {
		t.Errorf("clean Text allocates %v times", allocs)
	}
}

func TestFindingsNeverContainValues(t *testing.T) {
	values := []string{"123-45-6789", "jane@example.com", "(555) 123-4567", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "192.168.7.7", "EMP-424242"}
	for _, act := range []Action{ActionRedact, ActionBlock, ActionLog} {
		var rules []Rule
		for _, n := range []string{"ssn", "email", "phone", "credit_card", "iban", "ip"} {
			rules = append(rules, Rule{Name: n, Action: act})
		}
		rules = append(rules, Rule{Name: "emp", Action: act, Pattern: `EMP-\d{6}`})
		r, err := New(rules)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(values, " ; ")
		_, fs := r.Text(text)
		st := r.NewStream()
		st.Push(text)
		st.Flush()
		_, jfs, err := r.JSON([]byte(`{"content":"` + text + `"}`))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range [][]Finding{fs, st.Findings(), jfs} {
			if len(f) != 7 {
				t.Errorf("%s: findings %v", act, f)
			}
			s := fmt.Sprint(f) + fmt.Sprintf("%+v %#v", f, f)
			for _, v := range values {
				if strings.Contains(s, v) {
					t.Errorf("%s: findings %s contain %q", act, s, v)
				}
			}
		}
	}
}

func TestStreamSplits(t *testing.T) {
	r := allRedact(t)
	tests := []struct {
		pieces []string
		want   string
	}{
		{[]string{"my ssn is 123-4", "5-6789 ok"}, "my ssn is [REDACTED_SSN] ok"},
		{[]string{"my ssn is 12", "3-45-67", "89 ok"}, "my ssn is [REDACTED_SSN] ok"},
		{[]string{"mail jo", "hn@exam", "ple.com!"}, "mail [REDACTED_EMAIL]!"},
		{[]string{"card 4111 1111 ", "1111 1111"}, "card [REDACTED_CREDIT_CARD]"},
		{[]string{"ssn 123-45-6789", "0 is not one"}, "ssn 123-45-67890 is not one"},
	}
	for _, tt := range tests {
		s := r.NewStream()
		var out strings.Builder
		for _, p := range tt.pieces {
			out.WriteString(s.Push(p))
		}
		out.WriteString(s.Flush())
		if out.String() != tt.want {
			t.Errorf("pieces %q: got %q want %q", tt.pieces, out.String(), tt.want)
		}
	}
}

func TestStreamEmitsAndBounds(t *testing.T) {
	r := allRedact(t)
	s := r.NewStream()
	long := strings.Repeat("lorem ipsum dolor sit amet ", 40)
	emitted := 0
	for i := 0; i < len(long); i += 7 {
		piece := long[i:min(i+7, len(long))]
		emitted += len(s.Push(piece))
		if p := s.pending(); p > s.hold+utf8Max+7 {
			t.Fatalf("pending %d exceeds bound %d", p, s.hold)
		}
	}
	if emitted == 0 || emitted < len(long)-s.hold-8 {
		t.Errorf("emitted only %d of %d bytes", emitted, len(long))
	}
	rest := s.Flush()
	if emitted+len(rest) != len(long) {
		t.Errorf("flush returned %d bytes, want %d", len(rest), len(long)-emitted)
	}
	if len(s.buf) > 2*(s.hold+64) {
		t.Errorf("buffer not trimmed: %d", len(s.buf))
	}
}

const utf8Max = 4

var propTexts = []string{
	"Hello, my SSN is 123-45-6789 and my email is john.doe@example.com. Call (555) 123-4567 or +44 20 7946 0958.",
	"Pay to DE89 3704 0044 0532 0130 00 with card 4111 1111 1111 1111; server 192.168.1.1 and 2001:db8::8a2e:370:7334.",
	"no pii here at all, just words and numbers like 42 and 2024-01-15 and version 1.2.3.4.5 ünïcödé ✓✓✓",
	"edge: 123-45-67890 1123-45-6789 a@b @c.d x@y.zz 4111111111111112 GB82WEST12345698765432 ::1 999.1.1.1 EMP-123456 EMP-1234567",
	strings.Repeat("a@b.co ", 30) + strings.Repeat("x", 200) + "@example.org " + strings.Repeat("9", 40) + " 555-123-4567",
	"emails\u00a0bob@corp.example\u3000then 4012888888881881 then 078-05-1120 then 10.0.0.255. fin",
}

func TestStreamMatchesText(t *testing.T) {
	rs := map[string]*Redactor{
		"builtin": allRedact(t),
		"custom":  allRedact(t, Rule{Name: "emp", Action: ActionRedact, Pattern: `\bEMP-\d{6}\b`, MaxMatch: 10}),
		"log":     must(New([]Rule{{Name: "email", Action: ActionLog}, {Name: "ssn", Action: ActionBlock}})),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, r := range rs {
		for ti, text := range propTexts {
			want, wantFs := r.Text(text)
			for iter := 0; iter < 300; iter++ {
				s := r.NewStream()
				var out strings.Builder
				rest := text
				maxPiece := 1 + rng.IntN(40)
				for len(rest) > 0 {
					n := min(len(rest), rng.IntN(maxPiece+1)) // may be 0, may split runes
					out.WriteString(s.Push(rest[:n]))
					rest = rest[n:]
				}
				out.WriteString(s.Flush())
				if out.String() != want {
					t.Fatalf("%s text %d iter %d:\n got %q\nwant %q", name, ti, iter, out.String(), want)
				}
				if diff := cmp.Diff(wantFs, s.Findings()); diff != "" {
					t.Fatalf("%s text %d findings (-want +got):\n%s", name, ti, diff)
				}
			}
		}
	}
}

func must(r *Redactor, err error) *Redactor {
	if err != nil {
		panic(err)
	}
	return r
}

func TestRandomSplitsFuzzish(t *testing.T) {
	// Random texts built from PII fragments and noise: stream == text.
	r := allRedact(t, Rule{Name: "emp", Action: ActionLog, Pattern: `EMP-\d{6}`})
	frags := []string{"123-45-6789", "a.b@c.de", "(555) 123-4567", "+1 555 123 4567", "4111 1111 1111 1111", "DE89370400440532013000",
		"10.0.0.1", "fe80::1", " ", "-", ".", "1", "22", "@", ":", "word", "é", "EMP-000001", "\n", "+", "(", ")"}
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 2000; iter++ {
		var b strings.Builder
		for n := rng.IntN(60); n > 0; n-- {
			b.WriteString(frags[rng.IntN(len(frags))])
		}
		text := b.String()
		want, wantFs := r.Text(text)
		s := r.NewStream()
		var out strings.Builder
		for rest := text; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(12))
			out.WriteString(s.Push(rest[:n]))
			rest = rest[n:]
		}
		out.WriteString(s.Flush())
		if out.String() != want {
			t.Fatalf("text %q:\n got %q\nwant %q", text, out.String(), want)
		}
		if diff := cmp.Diff(wantFs, s.Findings()); diff != "" {
			t.Fatalf("text %q findings (-want +got):\n%s", text, diff)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	r := allRedact(t)
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				got, _ := r.Text("ssn 123-45-6789")
				_, _, err := r.JSON([]byte(`{"content":"ssn 123-45-6789"}`))
				if got != "ssn [REDACTED_SSN]" || err != nil {
					t.Error("concurrent mismatch")
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 8; g++ {
		<-done
	}
}

var prose2K = func() string {
	const p = "The quarterly review went well. Our team discussed the roadmap, the hiring plan and the budget for next year. " +
		"Everyone agreed that the new onboarding flow should ship before the summer, and that documentation needs work. "
	var b strings.Builder
	for b.Len() < 2048 {
		b.WriteString(p)
	}
	return b.String()[:2048]
}()

func BenchmarkTextClean(b *testing.B) {
	r := allRedact(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(prose2K)))
	for b.Loop() {
		if _, fs := r.Text(prose2K); fs != nil {
			b.Fatal(fs)
		}
	}
}

func BenchmarkTextPII(b *testing.B) {
	r := allRedact(b)
	text := prose2K[:1800] + " ssn 123-45-6789 mail a@b.com card 4111 1111 1111 1111"
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		r.Text(text)
	}
}

func BenchmarkJSON(b *testing.B) {
	r := allRedact(b)
	clean := []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"` + prose2K + `"}],"temperature":0.2}`)
	dirty := []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"` + prose2K[:1800] + ` ssn 123-45-6789"}],"temperature":0.2}`)
	for _, c := range []struct {
		name string
		body []byte
	}{{"clean", clean}, {"pii", dirty}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if _, _, err := r.JSON(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStream(b *testing.B) {
	r := allRedact(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(prose2K)))
	for b.Loop() {
		s := r.NewStream()
		for i := 0; i < len(prose2K); i += 16 {
			s.Push(prose2K[i:min(i+16, len(prose2K))])
		}
		s.Flush()
	}
}
