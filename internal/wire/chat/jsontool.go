package chat

import (
	"fmt"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// DefaultJSONToolName is the name of the tool that carries a JSON answer
// when response_format is json_object, or json_schema without a name.
const DefaultJSONToolName = "json_response"

// JSONTool is the forced tool by which a translator honours
// response_format json_object or json_schema for a provider that has no
// JSON mode of its own (Anthropic, Bedrock Converse): the model must call
// it, and its input is the answer.
type JSONTool struct {
	// Name is json_schema.name, or DefaultJSONToolName.
	Name string
	// Description is json_schema.description, or "".
	Description string
	// Schema is json_schema.schema as compact JSON, or {"type":"object"}
	// for json_object and a json_schema without a schema.
	Schema jsontext.Value
	// Strict is json_schema.strict.
	Strict bool
}

// jsonSchema is response_format.json_schema.
type jsonSchema struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Schema      jsontext.Value `json:"schema"`
	Strict      *bool          `json:"strict"`
}

// JSONTool returns the forced tool that stands for rf, or nil when rf
// asks for no JSON (absent, or type "text"). An unknown type, or a
// json_schema member of the wrong shape, is a *ParamError naming it.
func (d Dialect) JSONTool(rf *ResponseFormat) (*JSONTool, error) {
	if rf == nil {
		return nil, nil
	}
	switch rf.Type {
	case "text":
		return nil, nil
	case "json_object":
		return &JSONTool{Name: DefaultJSONToolName, Schema: jsontext.Value(`{"type":"object"}`)}, nil
	case "json_schema":
	default:
		return nil, &ParamError{Param: "response_format.type", Msg: fmt.Sprintf(`unknown "response_format.type" %q`, rf.Type)}
	}
	var js jsonSchema
	if !IsNull(rf.JSONSchema) {
		if err := json.Unmarshal(rf.JSONSchema, &js, json.RejectUnknownMembers(true)); err != nil {
			return nil, d.ParamErrorAt("response_format.json_schema", err)
		}
	}
	t := &JSONTool{Name: js.Name, Description: js.Description, Schema: js.Schema, Strict: js.Strict != nil && *js.Strict}
	if t.Name == "" {
		t.Name = DefaultJSONToolName
	}
	switch {
	case IsNull(t.Schema):
		t.Schema = jsontext.Value(`{"type":"object"}`)
	case t.Schema.Kind() != '{':
		return nil, &ParamError{Param: "response_format.json_schema.schema", Msg: `"response_format.json_schema.schema" must be a JSON Schema object`}
	default:
		if err := t.Schema.Compact(); err != nil {
			return nil, d.ParamErrorAt("response_format.json_schema.schema", err)
		}
	}
	return t, nil
}

// JSONToolName returns the name of the forced tool a translator adds for
// the response_format of the OpenAI request body openaiBody, and true; or
// "", false when the request asks for no JSON answer or cannot be read
// (the translation of the request reports why). The gateway passes the
// name to the answer translators, which are stateless between request and
// answer, so that they turn that tool's call back into message content.
func JSONToolName(openaiBody []byte) (string, bool) {
	var req struct {
		ResponseFormat *struct {
			Type       string `json:"type"`
			JSONSchema *struct {
				Name string `json:"name"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(openaiBody, &req); err != nil || req.ResponseFormat == nil {
		return "", false
	}
	switch req.ResponseFormat.Type {
	case "json_object":
		return DefaultJSONToolName, true
	case "json_schema":
		if js := req.ResponseFormat.JSONSchema; js != nil && js.Name != "" {
			return js.Name, true
		}
		return DefaultJSONToolName, true
	}
	return "", false
}
