package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/switchboard-gw/switchboard/internal/fetch"
)

// needsInlineImages is a cheap test for an http(s) image URL in an OpenAI
// chat body, so only such requests pay for inlineImages.
func needsInlineImages(body []byte) bool {
	return bytes.Contains(body, []byte(`"image_url"`)) &&
		(bytes.Contains(body, []byte(`"http://`)) || bytes.Contains(body, []byte(`"https://`)))
}

// inlineImages replaces the http(s) image URLs of an OpenAI chat body with
// data: URLs fetched through f (allowlisted hosts, never private addresses
// unless configured), for providers that only take inline images. The body
// is decoded and re-encoded: it is on the translation path anyway.
func inlineImages(ctx context.Context, f *fetch.Fetcher, body []byte) ([]byte, error) {
	var req map[string]jsontext.Value
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	var msgs []map[string]jsontext.Value
	if err := json.Unmarshal(req["messages"], &msgs); err != nil {
		return body, nil // the translator reports malformed messages
	}
	changed := false
	for i, m := range msgs {
		var parts []map[string]any
		if c := m["content"]; len(c) == 0 || c[0] != '[' || json.Unmarshal(c, &parts) != nil {
			continue
		}
		partsChanged := false
		for j, p := range parts {
			img, _ := p["image_url"].(map[string]any)
			u, _ := img["url"].(string)
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				continue
			}
			param := fmt.Sprintf("messages[%d].content[%d].image_url.url", i, j)
			if !f.Enabled() {
				return nil, badRequest(param, "this provider only takes inline images and the gateway does not fetch image URLs (images.fetch_hosts is empty): send the image as a data: URL, or ask the operator to allow its host")
			}
			mt, data, err := f.Image(ctx, u)
			if err != nil {
				if errors.Is(err, fetch.ErrNotAllowed) {
					return nil, badRequest(param, fmt.Sprintf("image URL refused: %v; send the image as a data: URL instead", err))
				}
				return nil, badRequest(param, fmt.Sprintf("the gateway could not fetch the image: %v; send it as a data: URL instead", err))
			}
			img["url"] = "data:" + mt + ";base64," + base64.StdEncoding.EncodeToString(data)
			partsChanged = true
		}
		if partsChanged {
			b, err := json.Marshal(parts)
			if err != nil {
				return nil, err
			}
			msgs[i]["content"] = b
			changed = true
		}
	}
	if !changed {
		return body, nil
	}
	b, err := json.Marshal(msgs)
	if err != nil {
		return nil, err
	}
	req["messages"] = b
	return json.Marshal(req, json.Deterministic(true))
}
