package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// templateColumns are the columns of a template row, in scanTemplate order.
const templateColumns = `name, version, messages, variables, created_at`

// templateAttempts bounds CreateTemplate's retries: each conflict means
// another creation of the same name committed first, so under n concurrent
// creators the unluckiest one retries n-1 times.
const templateAttempts = 32

// validTemplateName reports whether name matches [a-z0-9_.-]{1,64}.
func validTemplateName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// CreateTemplate stores t as the next version of t.Name. The version is
// computed and inserted in one statement (max + 1, or 1); two creations
// racing on one name that compute the same version collide on the primary
// key (name, version), and the loser tries again with the next one.
func (s *sqlStore) CreateTemplate(ctx context.Context, t Template) (Template, error) {
	if !validTemplateName(t.Name) {
		return Template{}, fmt.Errorf("store: create template: invalid name %q (want [a-z0-9_.-]{1,64})", t.Name)
	}
	if !t.Messages.IsValid() || t.Messages.Kind() != '[' {
		return Template{}, fmt.Errorf("store: create template %s: messages are not a JSON array", t.Name)
	}
	if t.Variables == nil {
		t.Variables = []string{}
	}
	vars, err := encodeVariables(t.Variables)
	if err != nil {
		return Template{}, fmt.Errorf("store: create template %s: variables: %w", t.Name, err)
	}
	t.Messages = t.Messages.Clone()
	t.Variables = slices.Clone(t.Variables)
	t.CreatedAt = now()
	// The CASTs give PostgreSQL the parameter types, which it cannot infer
	// from a SELECT list. RETURNING is supported by both engines (SQLite
	// since 3.35).
	q := `INSERT INTO templates (` + templateColumns + `)
		SELECT CAST(? AS TEXT), COALESCE(MAX(version), 0) + 1, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT)
		FROM templates WHERE name = ?
		RETURNING version`
	for attempt := 1; ; attempt++ {
		var version int64
		err = s.queryRow(ctx, q, t.Name, string(t.Messages), vars, toMicro(t.CreatedAt), t.Name).Scan(&version)
		if err == nil {
			t.Version = int(version)
			return t, nil
		}
		if !isUniqueViolation(err) {
			return Template{}, fmt.Errorf("store: create template %s: %w", t.Name, err)
		}
		if attempt == templateAttempts {
			return Template{}, fmt.Errorf("store: create template %s: gave up after %d version conflicts: %w", t.Name, attempt, ErrConflict)
		}
		// A short jittered pause spreads the retries of many creators.
		select {
		case <-ctx.Done():
			return Template{}, fmt.Errorf("store: create template %s: %w", t.Name, ctx.Err())
		case <-time.After(time.Duration(rand.IntN(1000*attempt)) * time.Microsecond):
		}
	}
}

// Template reads one version of a template; version 0 is the latest.
func (s *sqlStore) Template(ctx context.Context, name string, version int) (Template, error) {
	if version < 0 {
		return Template{}, fmt.Errorf("store: template %s@%d: %w", name, version, ErrNotFound)
	}
	var row *sql.Row
	if version == 0 {
		row = s.queryRow(ctx, `SELECT `+templateColumns+` FROM templates WHERE name = ?
			ORDER BY version DESC LIMIT 1`, name)
	} else {
		row = s.queryRow(ctx, `SELECT `+templateColumns+` FROM templates WHERE name = ? AND version = ?`,
			name, int64(version))
	}
	t, err := scanTemplate(row)
	if errors.Is(err, sql.ErrNoRows) {
		if version == 0 {
			return Template{}, fmt.Errorf("store: template %s: %w", name, ErrNotFound)
		}
		return Template{}, fmt.Errorf("store: template %s@%d: %w", name, version, ErrNotFound)
	}
	if err != nil {
		return Template{}, fmt.Errorf("store: template %s: %w", name, err)
	}
	return t, nil
}

// Templates lists the latest version of every template, sorted by name (in
// Go, so that both engines agree whatever PostgreSQL's collation).
func (s *sqlStore) Templates(ctx context.Context) ([]Template, error) {
	rows, err := s.query(ctx, `SELECT `+templateColumns+` FROM templates t
		WHERE version = (SELECT MAX(version) FROM templates l WHERE l.name = t.name)`)
	if err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	defer rows.Close()
	var out []Template
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("store: templates: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	slices.SortFunc(out, func(a, b Template) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func scanTemplate(r scanner) (Template, error) {
	var (
		t                Template
		version, created int64
		messages, vars   string
	)
	if err := r.Scan(&t.Name, &version, &messages, &vars, &created); err != nil {
		return Template{}, err
	}
	var err error
	if t.Variables, err = decodeVariables(vars); err != nil {
		return Template{}, fmt.Errorf("template %s@%d variables: %w", t.Name, version, err)
	}
	t.Version = int(version)
	t.Messages = jsontext.Value(messages)
	t.CreatedAt = fromMicro(created)
	return t, nil
}

// encodeVariables stores a list as a JSON array, "[]" when empty (unlike
// encodeList: the column is documented as a JSON array).
func encodeVariables(v []string) (string, error) {
	if len(v) == 0 {
		return "[]", nil
	}
	return encodeList(v)
}

// decodeVariables reads a JSON array; it never returns nil, so that
// "variables" is always an array.
func decodeVariables(s string) ([]string, error) {
	v, err := decodeList(s)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []string{}
	}
	return v, nil
}
