package openai

import (
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

// refScanChunk and refScanResponse are ScanChunk and ScanResponse as they
// were before the hand-written walker (walk.go): the same reads done with
// the package's pooled jsontext.Decoder, kept unchanged as the oracle of
// the differential tests. Note that getDecoder resets the decoder without
// options, so it rejects duplicate member names in every object; the
// walker does too.
func refScanChunk(data []byte) (c Chunk, err error) {
	d := getDecoder(data)
	defer putDecoder(d)
	if err := d.beginObject(); err != nil {
		return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
	}
	for {
		end, err := d.endObject()
		if err != nil {
			return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
		}
		if end {
			break
		}
		name, err := d.name()
		if err != nil {
			return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
		}
		switch string(name) {
		case "usage":
			c.HasUsage, err = refScanUsage(d, &c.Usage)
		case "choices":
			err = refScanChoices(d, &c)
		case "error":
			c.IsError = true
			err = d.dec.SkipValue()
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
		}
	}
	if err := d.finish(data); err != nil {
		return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
	}
	return c, nil
}

func refScanChoices(d *decoder, c *Chunk) error {
	if d.dec.PeekKind() != jsontext.KindBeginArray {
		return d.dec.SkipValue() // null, or something odd we do not need
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		switch d.dec.PeekKind() {
		case jsontext.KindEndArray:
			c.NoChoices = i == 0
			_, err := d.dec.ReadToken()
			return err
		case jsontext.KindBeginObject:
			if i == 0 {
				if err := refScanChoice(d, c); err != nil {
					return err
				}
				continue
			}
		}
		if err := d.dec.SkipValue(); err != nil {
			return err
		}
	}
}

func refScanChoice(d *decoder, c *Chunk) error {
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for {
		end, err := d.endObject()
		if err != nil || end {
			return err
		}
		name, err := d.name()
		if err != nil {
			return err
		}
		if string(name) == "finish_reason" && d.dec.PeekKind() == jsontext.KindString {
			v, err := d.dec.ReadValue()
			if err != nil {
				return err
			}
			c.FinishReason = finishReason(d.unquote(v))
			continue
		}
		if err := d.dec.SkipValue(); err != nil {
			return err
		}
	}
}

func refScanUsage(d *decoder, u *Usage) (bool, error) {
	switch d.dec.PeekKind() {
	case jsontext.KindNull:
		_, err := d.dec.ReadToken()
		return false, err
	case jsontext.KindBeginObject:
	default:
		return false, d.dec.SkipValue()
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return false, err
	}
	for {
		end, err := d.endObject()
		if err != nil || end {
			return true, err
		}
		name, err := d.name()
		if err != nil {
			return true, err
		}
		switch string(name) {
		case "prompt_tokens":
			err = refReadCount(d, &u.PromptTokens)
		case "completion_tokens":
			err = refReadCount(d, &u.CompletionTokens)
		case "total_tokens":
			err = refReadCount(d, &u.TotalTokens)
		case "prompt_tokens_details":
			err = refReadDetail(d, "cached_tokens", &u.CachedTokens)
		case "completion_tokens_details":
			err = refReadDetail(d, "reasoning_tokens", &u.ReasoningTokens)
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return true, err
		}
	}
}

func refReadDetail(d *decoder, want string, n *int64) error {
	if d.dec.PeekKind() != jsontext.KindBeginObject {
		return d.dec.SkipValue()
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for {
		end, err := d.endObject()
		if err != nil || end {
			return err
		}
		name, err := d.name()
		if err != nil {
			return err
		}
		if string(name) == want {
			err = refReadCount(d, n)
		} else {
			err = d.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

func refReadCount(d *decoder, n *int64) error {
	switch d.dec.PeekKind() {
	case jsontext.KindNumber:
		v, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		x, ok := int64Value(v)
		if !ok {
			return fmt.Errorf("%w: %s", errTokenCount, v)
		}
		*n = x
		return nil
	case jsontext.KindNull, jsontext.KindInvalid:
		_, err := d.dec.ReadToken()
		return err
	}
	return d.dec.SkipValue()
}

func refScanResponse(body []byte) (r Response, err error) {
	d := getDecoder(body)
	defer putDecoder(d)
	defer func() {
		if err != nil {
			r = Response{}
			err = fmt.Errorf("openai: scan response: %w", err)
		}
	}()
	if err := d.beginObject(); err != nil {
		return r, err
	}
	for {
		end, err := d.endObject()
		if err != nil {
			return r, err
		}
		if end {
			break
		}
		name, err := d.name()
		if err != nil {
			return r, err
		}
		switch {
		case string(name) == "usage":
			r.HasUsage, err = refScanUsage(d, &r.Usage)
		case string(name) == "model" && d.dec.PeekKind() == jsontext.KindString:
			var v jsontext.Value
			if v, err = d.dec.ReadValue(); err == nil {
				r.Model = string(d.unquote(v))
			}
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return r, err
		}
	}
	return r, d.finish(body)
}
