package gemini

import (
	"bytes"
	"fmt"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// droppedSchemaKeys are JSON Schema keywords that the Gemini API rejects
// in functionDeclarations.parameters and responseSchema (an OpenAPI 3.0
// subset: https://ai.google.dev/api/caching#Schema) and that only
// annotate or tighten the schema: they are removed wherever a schema
// appears. OpenAI's strict mode requires additionalProperties:false, so
// most strict schemas carry it; Gemini already produces only declared
// properties.
var droppedSchemaKeys = map[string]bool{
	"$schema":              true,
	"$id":                  true,
	"$comment":             true,
	"additionalProperties": true,
}

// maxRefDepth bounds $ref inlining; deeper (recursive) schemas are
// rejected.
const maxRefDepth = 16

// schemaCtx carries the root's definitions while a schema is cleaned.
type schemaCtx struct {
	defs  map[string]jsontext.Value // "#/$defs/X" and "#/definitions/X" → schema
	depth int
}

// cleanSchema rewrites a JSON Schema (OpenAI tool parameters or
// json_schema.schema) into the subset Gemini accepts, keeping member
// order: droppedSchemaKeys are removed; "type": [T, "null"] becomes
// "type": T plus "nullable": true (other type lists are rejected); a local
// "$ref" ("#/$defs/X" or "#/definitions/X", as pydantic and zod emit) is
// replaced by the definition it names, cleaned (sibling keywords of $ref
// are dropped), and the root's $defs/definitions are removed; other refs
// and recursive ones are rejected. Nested schemas (properties, items,
// prefixItems, anyOf, oneOf, allOf, not) are cleaned too; everything else
// (enum, format, description, required, minimum, ...) is passed as is —
// Gemini answers 400 naming any keyword it does not know. The result is
// compact.
func cleanSchema(v jsontext.Value, param string) (jsontext.Value, error) {
	ctx := &schemaCtx{}
	if v.Kind() == '{' {
		var root struct {
			Defs        map[string]jsontext.Value `json:"$defs"`
			Definitions map[string]jsontext.Value `json:"definitions"`
		}
		if err := json.Unmarshal(v, &root); err != nil {
			return nil, dialect.ParamErrorAt(param, err)
		}
		for name, d := range root.Defs {
			ctx.def("#/$defs/"+name, d)
		}
		for name, d := range root.Definitions {
			ctx.def("#/definitions/"+name, d)
		}
	}
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	return ctx.cleanValue(nil, dec, param, true)
}

func (c *schemaCtx) def(ref string, v jsontext.Value) {
	if c.defs == nil {
		c.defs = map[string]jsontext.Value{}
	}
	c.defs[ref] = v
}

// cleanValue copies the next value of dec to dst, cleaning it as a schema
// when isSchema is set.
func (c *schemaCtx) cleanValue(dst []byte, dec *jsontext.Decoder, param string, isSchema bool) ([]byte, error) {
	if isSchema && dec.PeekKind() == '{' {
		val, err := dec.ReadValue()
		if err != nil {
			return nil, dialect.ParamErrorAt(param, err)
		}
		var r struct {
			Ref *string `json:"$ref"`
		}
		if err := json.Unmarshal(val, &r); err != nil {
			return nil, dialect.ParamErrorAt(param, err)
		}
		if r.Ref == nil {
			return c.cleanObject(dst, jsontext.NewDecoder(bytes.NewReader(val)), param)
		}
		p := param + ".$ref"
		def, ok := c.defs[*r.Ref]
		switch {
		case !ok:
			return nil, &ParamError{Param: p, Msg: fmt.Sprintf("%q is not supported for Gemini models: only local references to $defs or definitions can be inlined, got %q", p, *r.Ref)}
		case c.depth >= maxRefDepth:
			return nil, &ParamError{Param: p, Msg: fmt.Sprintf("%q is not supported for Gemini models: recursive schemas cannot be inlined", p)}
		}
		c.depth++
		dst, err = c.cleanValue(dst, jsontext.NewDecoder(bytes.NewReader(def)), p, true)
		c.depth--
		return dst, err
	}
	{
		val, err := dec.ReadValue()
		if err != nil {
			return nil, dialect.ParamErrorAt(param, err)
		}
		if isSchema && val.Kind() != 't' && val.Kind() != 'f' {
			return nil, &ParamError{Param: param, Msg: fmt.Sprintf("%q must be a JSON Schema object", param)}
		}
		val = val.Clone()
		if err := val.Compact(); err != nil {
			return nil, dialect.ParamErrorAt(param, err)
		}
		return append(dst, val...), nil
	}
}

// cleanObject copies the schema object dec holds to dst, cleaned.
func (c *schemaCtx) cleanObject(dst []byte, dec *jsontext.Decoder, param string) ([]byte, error) {
	if _, err := dec.ReadToken(); err != nil {
		return nil, dialect.ParamErrorAt(param, err)
	}
	dst = append(dst, '{')
	first := true
	sep := func() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
	}
	nullable := false
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, dialect.ParamErrorAt(param, err)
		}
		name := tok.String()
		p := param + "." + name
		if droppedSchemaKeys[name] || name == "$defs" || name == "definitions" {
			if err := dec.SkipValue(); err != nil {
				return nil, dialect.ParamErrorAt(param, err)
			}
			continue
		}
		switch name {
		case "type":
			val, err := dec.ReadValue()
			if err != nil {
				return nil, dialect.ParamErrorAt(p, err)
			}
			typ, isNullable, err := schemaType(val, p)
			if err != nil {
				return nil, err
			}
			nullable = nullable || isNullable
			sep()
			dst = append(dst, `"type":`...)
			dst = append(dst, typ...)
		case "properties":
			if dec.PeekKind() != '{' {
				return nil, &ParamError{Param: p, Msg: fmt.Sprintf("%q must be an object", p)}
			}
			dec.ReadToken()
			sep()
			dst = append(dst, `"properties":{`...)
			n := 0
			for dec.PeekKind() != '}' {
				ptok, err := dec.ReadToken()
				if err != nil {
					return nil, dialect.ParamErrorAt(p, err)
				}
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst, _ = jsontext.AppendQuote(dst, ptok.String())
				dst = append(dst, ':')
				if dst, err = c.cleanValue(dst, dec, p+"."+ptok.String(), true); err != nil {
					return nil, err
				}
			}
			dec.ReadToken()
			dst = append(dst, '}')
		case "items", "not", "additionalItems":
			sep()
			dst, _ = jsontext.AppendQuote(dst, name)
			dst = append(dst, ':')
			if dst, err = c.cleanValue(dst, dec, p, dec.PeekKind() == '{'); err != nil {
				return nil, err
			}
		case "anyOf", "oneOf", "allOf", "prefixItems":
			if dec.PeekKind() != '[' {
				return nil, &ParamError{Param: p, Msg: fmt.Sprintf("%q must be an array of schemas", p)}
			}
			dec.ReadToken()
			sep()
			dst, _ = jsontext.AppendQuote(dst, name)
			dst = append(dst, ":["...)
			for i := 0; dec.PeekKind() != ']'; i++ {
				if i > 0 {
					dst = append(dst, ',')
				}
				if dst, err = c.cleanValue(dst, dec, fmt.Sprintf("%s[%d]", p, i), true); err != nil {
					return nil, err
				}
			}
			dec.ReadToken()
			dst = append(dst, ']')
		default:
			sep()
			dst, _ = jsontext.AppendQuote(dst, name)
			dst = append(dst, ':')
			if dst, err = c.cleanValue(dst, dec, p, false); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, dialect.ParamErrorAt(param, err)
	}
	if nullable {
		sep()
		dst = append(dst, `"nullable":true`...)
	}
	return append(dst, '}'), nil
}

// schemaType returns the Gemini form of a "type" value: a string as is, or
// the one non-null type of a two-element list with "null".
func schemaType(val jsontext.Value, p string) (typ []byte, nullable bool, err error) {
	switch val.Kind() {
	case '"':
		return val, false, nil
	case '[':
		dec := jsontext.NewDecoder(bytes.NewReader(val))
		dec.ReadToken()
		var types []jsontext.Value
		for dec.PeekKind() == '"' {
			v, err := dec.ReadValue()
			if err != nil {
				return nil, false, dialect.ParamErrorAt(p, err)
			}
			if string(v) == `"null"` {
				nullable = true
				continue
			}
			types = append(types, v.Clone())
		}
		if dec.PeekKind() == ']' && len(types) == 1 {
			return types[0], nullable, nil
		}
	}
	return nil, false, &ParamError{Param: p, Msg: fmt.Sprintf(`%q must be a type name or [type, "null"] for Gemini models`, p)}
}
