package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestDomains(t *testing.T) {
	d := Domains{"api.example.com", "*.corp.example"}
	for host, want := range map[string]bool{
		"api.example.com": true, "API.example.com.": true, "evil.com": false, "x.api.example.com": false,
		"a.corp.example": true, "a.b.corp.example": true, "corp.example": false,
	} {
		if got := d.Allows(host); got != want {
			t.Errorf("Allows(%q) = %v, want %v", host, got, want)
		}
	}
	if !(Domains{}).Allows("anything") {
		t.Error("an empty list must allow every host")
	}
}

func TestCheckURLs(t *testing.T) {
	tools := Domains{"tools.example.com"}
	images := Domains{"img.example.com"}
	for _, tt := range []struct {
		name, body string
		want       string // "" = allowed, else the host refused
	}{
		{"no urls", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, ""},
		{"allowed image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://img.example.com/a.png"}}]}]}`, ""},
		{"image elsewhere", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://evil.example.net/a.png"}}]}]}`, "evil.example.net"},
		{"inline image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`, ""},
		{"anthropic image", `{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"http://10.0.0.1/x.png"}}]}]}`, "10.0.0.1"},
		{"url in text is not an image", `{"messages":[{"role":"user","content":"see https://evil.example.net"}]}`, ""},
		{"mcp tool", `{"tools":[{"type":"mcp","server_label":"x","server_url":"https://mcp.evil.net/sse"}],"messages":[]}`, "mcp.evil.net"},
		{"allowed tool", `{"tools":[{"type":"mcp","server_url":"https://tools.example.com/mcp"}]}`, ""},
		{"function tool with a url in its schema", `{"tools":[{"type":"function","function":{"name":"f","description":"calls https://hooks.evil.net/x","parameters":{}}}]}`, "hooks.evil.net"},
	} {
		err := CheckURLs([]byte(tt.body), tools, images)
		var ue *URLError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want allowed", tt.name, err)
		case tt.want != "" && (!errors.As(err, &ue) || ue.Host != tt.want):
			t.Errorf("%s: %v, want %s refused", tt.name, err, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), "approved domain"):
			t.Errorf("%s: message %q does not say how to fix it", tt.name, err)
		}
	}
	if err := CheckURLs([]byte(`{"tools":[{"server_url":"https://anything.net"}]}`), nil, nil); err != nil {
		t.Errorf("no lists: %v", err)
	}
}
