package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/templates"
)

// expandTemplate renders the prompt template a chat request names
// ("template": {"name", "version", "variables"}) and puts its messages
// before the request's own. The usage record says which version ran.
func (s *Server) expandTemplate(x *exchange, r *http.Request, body []byte) ([]byte, error) {
	name, version, vars, ok, err := templates.Reference(body)
	if err != nil {
		return nil, badRequest("template", err.Error())
	}
	if !ok {
		return body, nil
	}
	if s.store == nil {
		return nil, badRequest("template", "this gateway runs without a store, so it has no prompt templates")
	}
	t, err := s.store.Template(r.Context(), name, version)
	if errors.Is(err, store.ErrNotFound) {
		v := "its latest version"
		if version > 0 {
			v = "version " + strconv.Itoa(version)
		}
		return nil, badRequest("template", fmt.Sprintf("prompt template %q has no %s; GET /admin/v1/templates lists them", name, v))
	}
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	rendered, err := templates.Render(t.Messages, vars)
	if err != nil {
		return nil, badRequest("template.variables", fmt.Sprintf("template %s@%d: %v", t.Name, t.Version, err))
	}
	out, err := templates.Expand(body, rendered)
	if err != nil {
		return nil, badRequest("template", err.Error())
	}
	x.template = t.Name + "@" + strconv.Itoa(t.Version)
	return out, nil
}

type templateRequest struct {
	Name     string         `json:"name"`
	Messages jsontext.Value `json:"messages"`
}

// adminCreateTemplate stores a new version of a prompt template:
// POST /admin/v1/templates {"name", "messages": [...]} with {{variable}}
// placeholders in the message text.
func (s *Server) adminCreateTemplate(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	var req templateRequest
	if err := decodeAdmin(r, &req, false); err != nil {
		return err
	}
	if !templates.ValidName(req.Name) {
		return badRequest("name", fmt.Sprintf("template name %q must be 1–64 characters of a-z, 0-9, _, . and -", req.Name))
	}
	vars, err := templates.Parse(req.Messages)
	if err != nil {
		return badRequest("messages", err.Error())
	}
	t, err := s.store.CreateTemplate(r.Context(), store.Template{Name: req.Name, Messages: req.Messages, Variables: vars})
	if err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	return writeAdmin(x, http.StatusCreated, t)
}

func (s *Server) adminListTemplates(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	ts, err := s.store.Templates(r.Context())
	if err != nil {
		return fmt.Errorf("list templates: %w", err)
	}
	if ts == nil {
		ts = []store.Template{}
	}
	return writeAdmin(x, http.StatusOK, map[string]any{"object": "list", "data": ts})
}

// adminGetTemplate: GET /admin/v1/templates/{name}?version=N (latest by
// default).
func (s *Server) adminGetTemplate(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badRequest("version", "version must be a positive number")
		}
		version = n
	}
	t, err := s.store.Template(r.Context(), r.PathValue("name"), version)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("template_not_found", fmt.Sprintf("no template %q (version %d; 0 = latest)", r.PathValue("name"), version))
	}
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	return writeAdmin(x, http.StatusOK, t)
}
