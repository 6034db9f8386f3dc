package config

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// env returns a lookup function over a fixed map.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func mustParse(t *testing.T, yaml string, vars map[string]string) *Config {
	t.Helper()
	c, err := Parse([]byte(yaml), "test.yaml", env(vars))
	if err != nil {
		t.Fatalf("Parse(%q) error: %v", yaml, err)
	}
	return c
}

func parseErr(t *testing.T, yaml string, vars map[string]string) string {
	t.Helper()
	_, err := Parse([]byte(yaml), "test.yaml", env(vars))
	if err == nil {
		t.Fatalf("Parse(%q) = nil error, want one", yaml)
	}
	if _, ok := errors.AsType[*Error](err); !ok {
		t.Errorf("Parse(%q) error type %T, want *Error", yaml, err)
	}
	return err.Error()
}

func defaultTimeouts() Timeouts {
	return Timeouts{Connect: Duration(5 * time.Second), FirstByte: Duration(60 * time.Second), Total: Duration(10 * time.Minute)}
}

func TestDefault(t *testing.T) {
	want := &Config{
		Server:    Server{Listen: "127.0.0.1:8080", MaxBodyBytes: 10 << 20, ShutdownTimeout: Duration(30 * time.Second), MaxInFlightBytes: 128 << 20},
		Store:     Store{Driver: "sqlite", DSN: "data/switchboard.db"},
		Log:       Log{Level: "info", Format: "text"},
		Providers: []Provider{{Name: "simulator", Type: "simulator", Timeouts: defaultTimeouts()}},
		Models: []Model{{Name: "demo", Targets: []Target{{Provider: "simulator", Model: "demo", Weight: 1}},
			FallbackOn: DefaultFallbackOn, Strategy: "weighted", Retries: 2}},
		Routing: Routing{RetryBudget: 0.2, BackoffBase: Duration(100 * time.Millisecond), BackoffMax: Duration(5 * time.Second),
			MaxRetryWait: Duration(10 * time.Second), IdempotencyTTL: Duration(time.Hour),
			Breaker: Breaker{FailureRate: 0.5, MinRequests: 10, Window: Duration(30 * time.Second), Cooldown: Duration(30 * time.Second), Probes: 1}},
		Auth:    Auth{KeyCacheTTL: Duration(5 * time.Second), JWT: JWT{TeamClaim: "team", UserClaim: "sub"}, MTLS: MTLS{Principal: "cn"}},
		Budgets: Budgets{Thresholds: []float64{0.5, 0.8, 1}},
		Usage:   Usage{SpoolDir: "data/spool", BatchSize: 500, FlushEvery: Duration(50 * time.Millisecond), ReplayEvery: Duration(5 * time.Second)},
		Redis:   Redis{Prefix: "sb:"},
		Privacy: Privacy{Mode: "hash", SampleRate: 0.01, Retention: Duration(720 * time.Hour), PurgeEvery: Duration(time.Hour)},
		Tracing: Tracing{SampleRatio: 1},
		Cache:   Cache{TTL: Duration(time.Hour), MaxBytes: 256 << 20},
	}
	if diff := cmp.Diff(want, Default()); diff != "" {
		t.Errorf("Default() mismatch (-want +got):\n%s", diff)
	}
	if ps := validate(Default(), nil); len(ps) != 0 {
		t.Errorf("validate(Default()) = %v, want no problems", ps)
	}

	// An empty file, a comment-only file and a file with only some sections
	// all get the built-in defaults for the rest.
	for _, in := range []string{"", "# nothing here\n", "---\n", "server: {}\nproviders: []\n"} {
		got := mustParse(t, in, nil)
		w := *want
		w.Source = "test.yaml"
		if diff := cmp.Diff(&w, got); diff != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", in, diff)
		}
	}

	got := mustParse(t, "server:\n  listen: 0.0.0.0:9000\n", nil)
	if got.Server.Listen != "0.0.0.0:9000" || len(got.Models) != 1 || got.Models[0].Name != "demo" {
		t.Errorf("Parse(listen only) = listen %q, models %v; want 0.0.0.0:9000 and the demo model", got.Server.Listen, got.Models)
	}
}

func TestRoutingConfig(t *testing.T) {
	got := mustParse(t, `
routing: {retry_budget: 0, breaker: {failure_rate: 0.25, min_requests: 4, cooldown: 2s}}
providers: [{name: p, type: simulator}]
models:
  - {name: m, targets: [{provider: p}], retries: 0, strategy: Latency, sticky: user, fallback_on: [content_policy]}
`, nil)
	if r := got.Routing; r.RetryBudget != 0 || r.Breaker.FailureRate != 0.25 || r.Breaker.MinRequests != 4 || r.Breaker.Cooldown.D() != 2*time.Second || r.Breaker.Window.D() != 30*time.Second {
		t.Errorf("routing = %+v", r)
	}
	m := got.Models[0]
	if m.Retries != 0 || m.Strategy != "latency" || m.Sticky != "user" || len(m.FallbackOn) != 1 || m.FallbackOn[0] != "content_policy" {
		t.Errorf("model = %+v", m)
	}
	for _, tc := range []struct{ in, want string }{
		{"routing: {retry_budget: 1.5}", "routing.retry_budget"},
		{"routing: {retry_budget: lots}", "want a number"},
		{"routing: {breaker: {failure_rate: 2}}", "failure_rate"},
		{"providers: [{name: p, type: simulator}]\nmodels: [{name: m, targets: [{provider: p}], strategy: fastest}]", "unknown strategy"},
		{"providers: [{name: p, type: simulator}]\nmodels: [{name: m, targets: [{provider: p}], sticky: team}]", "unknown sticky"},
		{"providers: [{name: p, type: simulator}]\nmodels: [{name: m, targets: [{provider: p}], fallback_on: [oops]}]", "unknown failure class"},
		{"providers: [{name: p, type: simulator}]\nmodels: [{name: m, targets: [{provider: p}], retries: -1}]", "retries"},
		{"providers: [{name: p, type: simulator}]\nmodels: [{name: m, targets: [{provider: p}], shape: {max_tokens: -5}}]", "must not be negative"},
		{"providers: [{name: p, type: simulator}]\nmodels: [{name: m, targets: [{provider: p}]}]\nrules: [{name: r, match: {tags: [x]}, model: nope}]", "rules[0].model"},
		{"providers: [{name: p, type: simulator}]\nmodels: [{name: m, targets: [{provider: p}]}]\nrules: [{name: r, model: m}]", "at least one condition"},
	} {
		_, err := Parse([]byte(tc.in), "test.yaml", func(string) (string, bool) { return "", false })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error mentioning %q", tc.in, err, tc.want)
		}
	}
}

func TestDefaultsFilled(t *testing.T) {
	c := mustParse(t, `
providers:
  - {name: az, type: AZURE, base_url: "https://r.openai.azure.com/"}
  - {name: oa, type: openai, base_url: "https://api.openai.com/v1", timeouts: {first_byte: 20s}}
models:
  - name: gpt-4o
    targets:
      - {provider: az}
      - {provider: oa, model: gpt-4o-2024-08-06, weight: 0}
      - {provider: oa, weight: 3}
log: {level: DEBUG, format: JSON}
store: {driver: postgres, dsn: "postgres://u@h/db"}
`, nil)
	wantProviders := []Provider{
		{Name: "az", Type: "azure", BaseURL: "https://r.openai.azure.com", APIVersion: "2024-10-21", Timeouts: defaultTimeouts()},
		{Name: "oa", Type: "openai", BaseURL: "https://api.openai.com/v1", Timeouts: Timeouts{Connect: Duration(5 * time.Second), FirstByte: Duration(20 * time.Second), Total: Duration(10 * time.Minute)}},
	}
	if diff := cmp.Diff(wantProviders, c.Providers); diff != "" {
		t.Errorf("Providers mismatch (-want +got):\n%s", diff)
	}
	wantTargets := []Target{
		{Provider: "az", Model: "gpt-4o", Weight: 1},            // absent weight = 1
		{Provider: "oa", Model: "gpt-4o-2024-08-06", Weight: 0}, // explicit 0 kept: drained
		{Provider: "oa", Model: "gpt-4o", Weight: 3},
	}
	if diff := cmp.Diff(wantTargets, c.Models[0].Targets); diff != "" {
		t.Errorf("Targets mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Log{Level: "debug", Format: "json"}, c.Log); diff != "" {
		t.Errorf("Log mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Store{Driver: "postgres", DSN: "postgres://u@h/db"}, c.Store); diff != "" {
		t.Errorf("Store mismatch (-want +got):\n%s", diff)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "30s", want: 30 * time.Second},
		{in: `"1m30s"`, want: 90 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "0s", want: 30 * time.Second}, // zero means the default
		{in: "30", wantErr: `test.yaml:1:28: server.shutdown_timeout: 30 has no unit; write a Go duration such as "30s"`},
		{in: `"30"`, wantErr: `invalid duration "30": a duration needs a unit; write e.g. "30s"`},
		{in: "1.5", wantErr: `1.5 has no unit`},
		{in: "10 minutes", wantErr: `invalid duration "10 minutes": not a duration; write a Go duration such as "30s"`},
		{in: "-5s", wantErr: `invalid duration "-5s": a duration cannot be negative`},
		{in: "[1s]", wantErr: `server.shutdown_timeout: want a duration such as "30s", got a list`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			in := "server: {shutdown_timeout: " + tc.in + "}\n"
			if tc.wantErr != "" {
				if got := parseErr(t, in, nil); !strings.Contains(got, tc.wantErr) {
					t.Errorf("Parse(%q) error = %q, want it to contain %q", in, got, tc.wantErr)
				}
				return
			}
			if got := mustParse(t, in, nil).Server.ShutdownTimeout.D(); got != tc.want {
				t.Errorf("Parse(%q).Server.ShutdownTimeout = %v, want %v", in, got, tc.want)
			}
		})
	}
}

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Size
		wantErr string
	}{
		{in: "1048576", want: 1 << 20},
		{in: "10MiB", want: 10 << 20},
		{in: "512kib", want: 512 << 10},
		{in: "1GiB", want: 1 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "10MB", want: 10_000_000},
		{in: "10KB", want: 10_000},
		{in: "3gb", want: 3_000_000_000},
		{in: "100B", want: 100},
		{in: `"64 KiB"`, want: 64 << 10},
		{in: `"4096"`, want: 4096},
		{in: "-1", wantErr: `invalid size "-1": a size cannot be negative`},
		{in: "-1MiB", wantErr: "a size cannot be negative"},
		{in: "1.5MiB", wantErr: `invalid size "1.5MiB": not a size`},
		{in: "10 parsecs", wantErr: "not a size"},
		{in: "10M", wantErr: "not a size"},
		{in: "9999999TiB", wantErr: "a size cannot exceed"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			in := "server: {max_body_bytes: " + tc.in + "}\n"
			if tc.wantErr != "" {
				if got := parseErr(t, in, nil); !strings.Contains(got, tc.wantErr) {
					t.Errorf("Parse(%q) error = %q, want it to contain %q", in, got, tc.wantErr)
				}
				return
			}
			if got := mustParse(t, in, nil).Server.MaxBodyBytes; got != tc.want {
				t.Errorf("Parse(%q).Server.MaxBodyBytes = %d, want %d", in, got, tc.want)
			}
		})
	}
}

func TestUnitsText(t *testing.T) {
	for _, tc := range []struct {
		s    Size
		want string
	}{{10 << 20, "10MiB"}, {10_000_000, "10MB"}, {1500, "1500B"}, {0, "0B"}, {3 << 30, "3GiB"}} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tc.s), got, tc.want)
		}
		var back Size
		if err := back.UnmarshalText([]byte(tc.want)); err != nil || back != tc.s {
			t.Errorf("Size.UnmarshalText(%q) = %d, %v; want %d", tc.want, back, err, tc.s)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("90s")); err != nil || d.D() != 90*time.Second || d.String() != "1m30s" {
		t.Errorf("Duration.UnmarshalText(90s) = %v, %v; want 1m30s", d, err)
	}
	if err := d.UnmarshalText([]byte("90")); err == nil {
		t.Errorf("Duration.UnmarshalText(90) = nil error, want one")
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "alpha", "EMPTY": "", "YAML": "a: b\n- c"}
	for _, tc := range []struct {
		in, want string
		wantVars []string
		wantErr  string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha", wantVars: []string{"A"}},
		{in: "x-${A}-y", want: "x-alpha-y", wantVars: []string{"A"}},
		{in: "${B:-dflt}", want: "dflt", wantVars: []string{"B"}},
		{in: "${A:-dflt}", want: "alpha", wantVars: []string{"A"}},
		{in: "${EMPTY:-dflt}", want: "dflt", wantVars: []string{"EMPTY"}},
		{in: "${EMPTY}", want: "", wantVars: []string{"EMPTY"}},
		{in: "${B:-}", want: "", wantVars: []string{"B"}},
		{in: "${B:-${A}}", want: "alpha", wantVars: []string{"B", "A"}},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "pa$$w0rd", want: "pa$w0rd"},
		{in: "pa$w0rd$", want: "pa$w0rd$"}, // a lone $ stays
		{in: "${YAML}", want: "a: b\n- c", wantVars: []string{"YAML"}},
		{in: "${B}", wantErr: "environment variable B is not set (set it, or give a default: ${B:-value})"},
		{in: "${A", wantErr: "unterminated ${"},
		{in: "${1A}", wantErr: `invalid variable name "1A"`},
		{in: "${}", wantErr: `invalid variable name ""`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, gotVars, err := expand(tc.in, env(vars))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("expand(%q) error = %v, want it to contain %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("expand(%q) error: %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if diff := cmp.Diff(tc.wantVars, gotVars); diff != "" {
				t.Errorf("expand(%q) vars mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseEnv(t *testing.T) {
	vars := map[string]string{
		"KEY":    "sk-secret-value",
		"FB":     "20s",
		"MAXC":   "64",
		"BODY":   "1MiB",
		"INJECT": "a: b\n- c\n}: {",
		"BADURL": "sk-not-a-url",
		"BADDUR": "sk-bad-duration",
	}
	c := mustParse(t, `
server:
  max_body_bytes: "${BODY}"
admin:
  key: "${KEY}"
providers:
  - name: oa
    type: openai
    base_url: "${BASE:-https://api.openai.com/v1}"
    api_keys: ["${KEY}", "literal$$dollar"]
    max_concurrency: "${MAXC}"
    timeouts: {first_byte: "${FB:-30s}", total: "${TOTAL:-2m}"}
    headers: {X-Note: "n=${MAXC}"}
models:
  - {name: m, targets: [{provider: oa, weight: "${W:-}"}]}
`, vars)
	p := c.Providers[0]
	got := struct {
		Body      Size
		Admin     string
		BaseURL   string
		Keys      []string
		MaxC      int
		FirstByte time.Duration
		Total     time.Duration
		Note      string
		Weight    int
	}{c.Server.MaxBodyBytes, c.Admin.Key, p.BaseURL, p.APIKeys, p.MaxConcurrency, p.Timeouts.FirstByte.D(), p.Timeouts.Total.D(), p.Headers["X-Note"], c.Models[0].Targets[0].Weight}
	want := got
	want.Body = 1 << 20
	want.Admin = "sk-secret-value"
	want.BaseURL = "https://api.openai.com/v1"
	want.Keys = []string{"sk-secret-value", "literal$dollar"}
	want.MaxC = 64
	want.FirstByte = 20 * time.Second
	want.Total = 2 * time.Minute
	want.Note = "n=64"
	want.Weight = 1 // empty expansion = absent = default
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expanded values mismatch (-want +got):\n%s", diff)
	}

	// A value containing YAML cannot add keys or list items.
	c = mustParse(t, "admin:\n  key: \"${INJECT}\"\n", vars)
	if c.Admin.Key != vars["INJECT"] {
		t.Errorf("admin.key = %q, want the literal %q", c.Admin.Key, vars["INJECT"])
	}

	for _, tc := range []struct {
		name, in, want string
	}{
		{"unset", "admin:\n  key: \"${SWITCHBOARD_ADMIN_KEY}\"\n",
			"test.yaml:2:8: admin.key: environment variable SWITCHBOARD_ADMIN_KEY is not set"},
		{"unset in list", "providers:\n  - name: a\n    type: openai\n    base_url: http://x\n    api_keys: [\"${OPENAI_API_KEY}\"]\n",
			"test.yaml:5:16: providers[0].api_keys[0]: environment variable OPENAI_API_KEY is not set"},
		{"bad url from env", "providers: [{name: a, type: openai, base_url: \"${BADURL}\"}]\n",
			"providers[0].base_url: the value of ${BADURL} is not an absolute http(s) URL"},
		{"bad duration from env", "server: {shutdown_timeout: \"${BADDUR}\"}\n",
			"server.shutdown_timeout: invalid duration the value of ${BADDUR}: not a duration"},
		{"bad int from env", "keys: [{name: k, key: x, rpm: \"x${KEY}\"}]\n",
			`keys[0].rpm: want a whole number, got "x${KEY}" (after expanding ${KEY})`},
		{"duplicate secret from env", "keys: [{name: a, key: \"${KEY}\"}, {name: b, key: \"${KEY}\"}]\n",
			"keys[1].key: same key value as keys[0] (after expanding ${KEY})"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErr(t, tc.in, vars)
			if !strings.Contains(got, tc.want) {
				t.Errorf("Parse error = %q, want it to contain %q", got, tc.want)
			}
			for _, v := range vars {
				if strings.Contains(got, v) {
					t.Errorf("Parse error = %q, contains the environment value %q", got, v)
				}
			}
		})
	}
}

func TestUnknownKey(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"nested with line", `server:
  listen: :8080
providers:
  - name: a
    type: openai
    base_ur: https://x
`, `test.yaml:6:5: unknown key "base_ur" in providers[0] (did you mean "base_url"?)`},
		{"top level", "sever:\n  listen: :1\n", `test.yaml:1:1: unknown key "sever" (did you mean "server"?)`},
		{"no suggestion lists keys", "log: {colour: true}\n", `test.yaml:1:7: unknown key "colour" in log (valid keys: level, format)`},
		{"flow mapping in list", "models:\n  - {name: m, targets: [{provider: p, wieght: 2}]}\n",
			`test.yaml:2:39: unknown key "wieght" in models[0].targets[0] (did you mean "weight"?)`},
		{"several reported at once", "server: {a: 1}\nlog: {b: 2}\n", "test.yaml:1:10: unknown key \"a\" in server (valid keys: listen, max_body_bytes, tls, shutdown_timeout, max_in_flight_bytes, http_server)\ntest.yaml:2:7: unknown key \"b\" in log"},
		{"syntax error", "server: [1,\n", "test.yaml:1:9: invalid YAML:"},
		{"duplicate key", "log: {level: info}\nlog: {level: debug}\n", `test.yaml:2:1: invalid YAML: mapping key "log" already defined`},
		{"wrong shape", "providers:\n  name: a\n", "test.yaml:2:3: providers: want a list"},
		{"scalar top level", "hello\n", "top level: want a mapping"},
		{"two documents", "log: {}\n---\nlog: {}\n", "one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseErr(t, tc.in, nil); !strings.Contains(got, tc.want) {
				t.Errorf("Parse error = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	c := mustParse(t, `
providers:
  - &oa
    name: oa
    type: openai
    base_url: https://api.openai.com/v1
    timeouts: &slow {first_byte: 2m, total: 20m}
  - <<: *oa
    name: oa2
    timeouts: *slow
models:
  - {name: m, targets: [{provider: oa2}]}
`, nil)
	if len(c.Providers) != 2 || c.Providers[1].Name != "oa2" || c.Providers[1].BaseURL != "https://api.openai.com/v1" || c.Providers[1].Timeouts.FirstByte.D() != 2*time.Minute {
		t.Errorf("merged provider = %+v, want oa2 with oa's base_url and 2m first_byte", c.Providers[1])
	}
}

func TestValidation(t *testing.T) {
	const oa = "providers: [{name: oa, type: openai, base_url: \"https://api.openai.com/v1\"}]\n"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"provider name required", "providers: [{type: simulator}]\n", "test.yaml:1:13: providers[0].name: required"},
		{"provider name unique", "providers:\n  - {name: s, type: simulator}\n  - {name: s, type: simulator}\n", `test.yaml:3:12: providers[1].name: duplicate provider name "s" (also providers[0])`},
		{"provider name slash", "providers: [{name: a/b, type: simulator}]\n", `providers[0].name: "a/b" must not contain "/"`},
		{"type required", "providers: [{name: a}]\n", "providers[0].type: required (one of openai, azure, anthropic, gemini, vertex, bedrock, simulator, or a preset: cerebras, deepseek"},
		{"type unknown", "providers: [{name: a, type: cohere}]\n", `providers[0].type: unknown provider type "cohere" (want openai, azure, anthropic, gemini, vertex, bedrock, simulator, or a preset: cerebras`},
		{"bedrock needs a region and credentials", "providers: [{name: a, type: bedrock}]\n", `providers[0].region: required for type bedrock`},
		{"vertex needs a project", "providers: [{name: a, type: vertex, region: us-central1}]\n", `providers[0].project: required for type vertex`},
		{"region only for cloud providers", "providers: [{name: a, type: openai, base_url: \"http://x\", region: eu}]\n", `only used by vertex and bedrock`},
		{"base_url required openai", "providers: [{name: a, type: openai}]\n", "providers[0].base_url: required for type openai"},
		{"base_url required azure", "providers: [{name: a, type: azure}]\n", "providers[0].base_url: required for type azure, e.g. https://my-resource.openai.azure.com"},
		{"base_url relative", "providers: [{name: a, type: openai, base_url: api.openai.com/v1}]\n", `providers[0].base_url: "api.openai.com/v1" is not an absolute http(s) URL`},
		{"base_url scheme", "providers: [{name: a, type: openai, base_url: \"ftp://x\"}]\n", `providers[0].base_url: "ftp://x" is not an absolute http(s) URL`},
		{"api_version not azure", "providers: [{name: a, type: openai, base_url: \"http://x\", api_version: v1}]\n", "providers[0].api_version: only used by azure providers"},
		{"faults not simulator", "providers: [{name: a, type: openai, base_url: \"http://x\", faults: \"status=500\"}]\n", "providers[0].faults: only allowed on simulator providers (this one is openai)"},
		{"empty api key", "providers: [{name: a, type: openai, base_url: \"http://x\", api_keys: [\"\"]}]\n", "providers[0].api_keys[0]: empty API key"},
		{"negative concurrency", "providers: [{name: a, type: simulator, max_concurrency: -1}]\n", "providers[0].max_concurrency: must not be negative"},
		{"first_byte over total", "providers: [{name: a, type: simulator, timeouts: {first_byte: 2m, total: 1m}}]\n", "providers[0].timeouts.first_byte: 2m0s is longer than total 1m0s"},
		{"bad header", "providers: [{name: a, type: simulator, headers: {\"Bad Header\": x}}]\n", `providers[0].headers.Bad Header: "Bad Header" is not a valid HTTP header name`},
		{"model name required", oa + "models: [{targets: [{provider: oa}]}]\n", "models[0].name: required"},
		{"model name unique", oa + "models: [{name: m, targets: [{provider: oa}]}, {name: m, targets: [{provider: oa}]}]\n", `models[1].name: duplicate model name "m" (also models[0])`},
		{"target provider exists", oa + "models: [{name: m, targets: [{provider: nope}]}]\n", `test.yaml:2:41: models[0].targets[0].provider: unknown provider "nope" (configured: oa)`},
		{"target provider required", oa + "models: [{name: m, targets: [{model: x}]}]\n", "models[0].targets[0].provider: required"},
		{"targets required", oa + "models: [{name: m}]\n", "models[0].targets: at least one target is required"},
		{"negative weight", oa + "models: [{name: m, targets: [{provider: oa, weight: -1}]}]\n", "models[0].targets[0].weight: must not be negative"},
		{"all weights zero", oa + "models: [{name: m, targets: [{provider: oa, weight: 0}]}]\n", "models[0].targets: every weight is 0; at least one target needs weight > 0"},
		{"fallback unknown", oa + "models: [{name: m, targets: [{provider: oa}], fallbacks: [x]}]\n", `models[0].fallbacks[0]: unknown model "x"`},
		{"fallback self", oa + "models: [{name: m, targets: [{provider: oa}], fallbacks: [m]}]\n", `models[0].fallbacks[0]: model "m" cannot fall back to itself`},
		{"key name required", "keys: [{key: k}]\n", "keys[0].name: required"},
		{"key name unique", "keys: [{name: a, key: k1}, {name: a, key: k2}]\n", `keys[1].name: duplicate key name "a" (also keys[0])`},
		{"key value required", "keys: [{name: a}]\n", "keys[0].key: required, non-empty"},
		{"key value unique", "keys: [{name: a, key: k1}, {name: b, key: k1}]\n", "keys[1].key: same key value as keys[0]"},
		{"key negative rpm", "keys: [{name: a, key: k, rpm: -5}]\n", "keys[0].rpm: must not be negative"},
		{"log level", "log: {level: verbose}\n", `log.level: unknown level "verbose" (want debug, info, warn or error)`},
		{"log format", "log: {format: xml}\n", `log.format: unknown format "xml" (want text or json)`},
		{"store driver", "store: {driver: mysql}\n", `store.driver: unknown driver "mysql" (want sqlite or postgres)`},
		{"postgres dsn", "store: {driver: postgres}\n", "store.dsn: required for driver postgres"},
		{"redis url", "redis: {url: \"http://:pw@x\"}\n", "redis.url: want a redis://host:6379"},
		{"listen", "server: {listen: localhost}\n", `server.listen: "localhost" is not host:port`},
		{"tls pair", "server: {tls: {cert_file: c.pem}}\n", "server.tls: cert_file and key_file must be set together"},
		{"mtls needs cert", "server: {tls: {client_ca_file: ca.pem}}\n", "server.tls.client_ca_file: mTLS also needs cert_file and key_file"},
		{"int type", "keys: [{name: a, key: k, rpm: lots}]\n", `keys[0].rpm: want a whole number, got "lots"`},
		{"list type", "providers: [{name: a, type: simulator, api_keys: k}]\n", "providers[0].api_keys: want a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseErr(t, tc.in, nil); !strings.Contains(got, tc.want) {
				t.Errorf("Parse error = %q, want it to contain %q", got, tc.want)
			}
		})
	}

	// Secrets never appear in validation messages.
	got := parseErr(t, "redis: {url: \"http://:hunter2@x\"}\nstore: {driver: bogus, dsn: \"postgres://u:hunter2@h\"}\nkeys: [{name: a, key: hunter2}, {name: b, key: hunter2}]\n", nil)
	if strings.Contains(got, "hunter2") {
		t.Errorf("Parse error = %q, contains a secret", got)
	}
}

func TestResolve(t *testing.T) {
	withFile := fstest.MapFS{"switchboard.yaml": {Data: []byte("")}}
	withDir := fstest.MapFS{"switchboard.yaml/x": {Data: []byte("")}}
	empty := fstest.MapFS{}
	for _, tc := range []struct {
		name, flag, envVal string
		fsys               fs.StatFS
		want               string
	}{
		{"flag wins", "a.yaml", "b.yaml", withFile, "a.yaml"},
		{"env next", "", "b.yaml", withFile, "b.yaml"},
		{"file in cwd", "", "", withFile, "switchboard.yaml"},
		{"a directory is not a file", "", "", withDir, ""},
		{"built-in defaults", "", "", empty, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "SWITCHBOARD_CONFIG" {
					return tc.envVal
				}
				return ""
			}
			if got := resolve(tc.flag, getenv, tc.fsys.Stat); got != tc.want {
				t.Errorf("resolve(%q) with SWITCHBOARD_CONFIG=%q = %q, want %q", tc.flag, tc.envVal, got, tc.want)
			}
		})
	}

	// The exported function reads the real environment and working directory.
	t.Chdir(t.TempDir())
	t.Setenv("SWITCHBOARD_CONFIG", "")
	if got := Resolve(""); got != "" {
		t.Errorf("Resolve(\"\") in an empty directory = %q, want \"\"", got)
	}
	if err := os.WriteFile("switchboard.yaml", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := Resolve(""); got != "switchboard.yaml" {
		t.Errorf("Resolve(\"\") = %q, want switchboard.yaml", got)
	}
	t.Setenv("SWITCHBOARD_CONFIG", "/etc/sb.yaml")
	if got := Resolve(""); got != "/etc/sb.yaml" {
		t.Errorf("Resolve(\"\") = %q, want /etc/sb.yaml", got)
	}
}

func TestSecrets(t *testing.T) {
	c := mustParse(t, `
admin: {key: adm}
store: {driver: postgres, dsn: "postgres://u:pgpw@db/sb"}
redis: {url: "redis://:redispw@r:6379"}
providers:
  - {name: a, type: openai, base_url: "http://x", api_keys: [k1, k2], headers: {api-key: hk, X-Trace: visible}}
  - {name: b, type: openai, base_url: "http://y", api_keys: [k1]}
keys:
  - {name: ci, key: ck}
`, nil)
	want := []string{"adm", "k1", "k2", "hk", "ck", "pgpw", "redispw"}
	if diff := cmp.Diff(want, c.Secrets()); diff != "" {
		t.Errorf("Secrets() mismatch (-want +got):\n%s", diff)
	}

	if got := Default().Secrets(); len(got) != 0 {
		t.Errorf("Default().Secrets() = %q, want none", got)
	}
	kv := &Config{Store: Store{Driver: "postgres", DSN: "host=db user=u password=kvpw dbname=sb"}, Keys: []Key{{Name: "x"}}}
	if diff := cmp.Diff([]string{"kvpw"}, kv.Secrets()); diff != "" {
		t.Errorf("Secrets() of a key=value DSN mismatch (-want +got):\n%s", diff)
	}
}

func TestExampleFile(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-openai")
	t.Setenv("AZURE_OPENAI_API_KEY", "sk-azure")
	t.Setenv("CI_GATEWAY_KEY", "sk-ci")
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant")
	t.Setenv("GEMINI_API_KEY", "g-key")
	t.Setenv("VERTEX_ACCESS_TOKEN", "v-token")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
	c, err := Load("../../switchboard.example.yaml")
	if err != nil {
		t.Fatalf("Load(switchboard.example.yaml) error: %v", err)
	}
	var names []string
	for _, p := range c.Providers {
		names = append(names, p.Name+":"+p.Type)
	}
	if diff := cmp.Diff([]string{"openai:openai", "azure-east:azure", "anthropic:anthropic", "gemini:gemini", "vertex:vertex", "bedrock:bedrock", "local:openai", "simulator:simulator"}, names); diff != "" {
		t.Errorf("example providers mismatch (-want +got):\n%s", diff)
	}
	if got := c.Models[0].Targets; len(got) != 2 || got[0].Weight != 95 || got[1].Weight != 5 {
		t.Errorf("example gpt-4o targets = %+v, want weights 95 and 5", got)
	}
	if diff := cmp.Diff([]string{"sk-openai", "sk-azure", "sk-ant", "g-key", "v-token", "aws-secret", "sk-ci"}, c.Secrets()); diff != "" {
		t.Errorf("example Secrets() mismatch (-want +got):\n%s", diff)
	}

	// Without the variables it names them.
	t.Setenv("CI_GATEWAY_KEY", "")
	os.Unsetenv("CI_GATEWAY_KEY")
	_, err = Load("../../switchboard.example.yaml")
	if err == nil || !strings.Contains(err.Error(), "CI_GATEWAY_KEY is not set") {
		t.Errorf("Load(example) without CI_GATEWAY_KEY error = %v, want it to name the variable", err)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load("/nonexistent/switchboard.yaml")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/nonexistent/switchboard.yaml") {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist naming the path", err)
	}
}

func TestPresetDefaults(t *testing.T) {
	got := mustParse(t, "providers: [{name: g, type: groq}, {name: a, type: anthropic}, {name: o, type: Ollama}]\nmodels: [{name: m, targets: [{provider: g}]}]\n", nil)
	for i, want := range []string{"https://api.groq.com/openai/v1", "https://api.anthropic.com", "http://127.0.0.1:11434/v1"} {
		if got.Providers[i].BaseURL != want {
			t.Errorf("providers[%d].base_url = %q, want %q", i, got.Providers[i].BaseURL, want)
		}
	}
	if got.Providers[1].DefaultMaxTokens != 4096 {
		t.Errorf("anthropic default_max_tokens = %d, want 4096", got.Providers[1].DefaultMaxTokens)
	}
}

func TestImagesConfig(t *testing.T) {
	got := mustParse(t, "images: {fetch_hosts: [cdn.example.com, \"*.img.example.com\"], allow_private: true, max_bytes: 2MiB}\n", nil)
	if im := got.Images; len(im.FetchHosts) != 2 || !im.AllowPrivate || im.MaxBytes != 2<<20 {
		t.Errorf("images = %+v", im)
	}
	if _, err := Parse([]byte("images: {allow_private: maybe}\n"), "test.yaml", func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "true or false") {
		t.Errorf("a non-boolean allow_private: %v, want an error saying true or false", err)
	}
}

func TestTenancyConfig(t *testing.T) {
	got := mustParse(t, `
store: {driver: sqlite, dsn: /var/lib/sb/db.sqlite}
teams: [{name: ml, rpm: 100, budget: {usd: 50}}]
keys: [{name: ci, key: secret-ci, team: ml, max_parallel: 4, endpoints: [/v1/embeddings], budget: {usd: 5, period: daily}}]
limits: {user: {rpm: 10}, models: {demo: {tpm: 1000}}}
prices: {my-model: {input: 1, output: 2}}
auth: {jwt: {jwks_url: "https://idp.example/jwks.json", audience: gw}}
`, nil)
	if got.Teams[0].Budget.Period != "monthly" || got.Keys[0].Budget.Period != "daily" || got.Keys[0].MaxParallel != 4 {
		t.Errorf("teams/keys = %+v %+v", got.Teams, got.Keys)
	}
	if got.Usage.SpoolDir != "/var/lib/sb/spool" {
		t.Errorf("spool dir = %q, want next to the SQLite file", got.Usage.SpoolDir)
	}
	if got.Limits.Models["demo"].TPM != 1000 || got.Prices["my-model"].Output != 2 || got.Auth.JWT.UserClaim != "sub" {
		t.Errorf("limits/prices/auth = %+v %+v %+v", got.Limits, got.Prices, got.Auth)
	}
	for _, tc := range []struct{ in, want string }{
		{"keys: [{name: a, key: k1, budget: {usd: 5, period: yearly}}]", "keys[0].budget.period"},
		{"keys: [{name: a, key: k1, max_parallel: -1}]", "keys[0].max_parallel"},
		{"keys: [{name: a, key: k1, endpoints: [/v1/chat]}]", "keys[0].endpoints[0]"},
		{"teams: [{name: a}, {name: a}]", "duplicate team name"},
		{"teams: [{name: a, budget: {usd: -1}}]", "teams[0].budget.usd"},
		{"limits: {models: {nope: {rpm: 1}}}", "limits.models.nope"},
		{"budgets: {thresholds: [80]}", "budgets.thresholds[0]"},
		{"budgets: {webhook_url: not-a-url}", "budgets.webhook_url"},
		{"auth: {jwt: {jwks_url: \"https://x/jwks\", key: k}}", "not both"},
		{"auth: {mtls: {principal: serial}}", "auth.mtls.principal"},
		{"auth: {mtls: {teams: {svc: ml}}}", "client_ca_file"},
		{"prices: {m: {input: -1}}", "prices.m"},
		{"privacy: {mode: full}", "privacy.mode"},
		{"server: {max_body_bytes: 2MiB, max_in_flight_bytes: 1MiB}", "server.max_in_flight_bytes"},
		{"server: {http_server: fasthttp}", "server.http_server"},
		{"keys: [{name: a, key: k1, privacy: raw}]", "keys[0].privacy"},
		{"privacy: {sample_rate: 2}", "privacy.sample_rate"},
		{"tracing: {endpoint: collector:4318}", "tracing.endpoint"},
		{"policy: {pii: {rules: [{name: passport}]}}", "policy.pii.rules[0].name"},
		{"policy: {pii: {rules: [{name: emp, pattern: \"EMP-[\"}]}}", "policy.pii.rules[0].pattern"},
		{"policy: {pii: {rules: [{name: email, action: shout}]}}", "policy.pii.rules[0].action"},
		{"policy: {hooks: [rag]}", "unknown hook"},
		{"hooks: [{name: rag, url: \"http://rag\", stage: during}]", "hooks[0].stage"},
		{"policies: [{name: strict}, {name: strict}]", "duplicate policy"},
		{"keys: [{name: a, key: k1, policy: lax}]", "keys[0].policy"},
	} {
		_, err := Parse([]byte(tc.in), "test.yaml", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error mentioning %q", tc.in, err, tc.want)
		}
	}
}
