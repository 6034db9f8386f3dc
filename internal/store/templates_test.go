package store

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"
)

func tmpl(name, text string, vars ...string) Template {
	return Template{
		Name:      name,
		Messages:  jsontext.Value(`[{"role":"user","content":` + fmt.Sprintf("%q", text) + `}]`),
		Variables: vars,
	}
}

func TestTemplateVersions(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		var created []Template
		for i := 1; i <= 3; i++ {
			before := time.Now().Add(-time.Second)
			got, err := s.CreateTemplate(c, tmpl("greet", fmt.Sprintf("v%d {{name}}", i), "name"))
			if err != nil {
				t.Fatalf("CreateTemplate #%d: %v", i, err)
			}
			if got.Version != i {
				t.Errorf("CreateTemplate #%d: version %d, want %d", i, got.Version, i)
			}
			if got.CreatedAt.Before(before) || got.CreatedAt.Location() != time.UTC {
				t.Errorf("CreateTemplate #%d: created_at %v", i, got.CreatedAt)
			}
			created = append(created, got)
		}
		other, err := s.CreateTemplate(c, tmpl("alpha", "no variables"))
		if err != nil {
			t.Fatal(err)
		}
		if other.Version != 1 || other.Variables == nil {
			t.Errorf("other name: version %d variables %#v, want 1 and []", other.Version, other.Variables)
		}

		latest, err := s.Template(c, "greet", 0)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(created[2], latest); d != "" {
			t.Errorf("Template(greet, 0) (-want +got):\n%s", d)
		}
		for _, want := range created {
			got, err := s.Template(c, "greet", want.Version)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Template(greet, %d) (-want +got):\n%s", want.Version, d)
			}
		}
		for _, q := range []struct {
			name    string
			version int
		}{{"greet", 4}, {"greet", -1}, {"nope", 0}, {"nope", 1}} {
			if _, err := s.Template(c, q.name, q.version); !errors.Is(err, ErrNotFound) {
				t.Errorf("Template(%s, %d) = %v, want ErrNotFound", q.name, q.version, err)
			}
		}

		all, err := s.Templates(c)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]Template{other, created[2]}, all); d != "" {
			t.Errorf("Templates (-want +got):\n%s", d)
		}
	})
}

func TestTemplatesEmpty(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		all, err := s.Templates(ctx(t))
		if err != nil || len(all) != 0 {
			t.Errorf("Templates on an empty store = %v, %v; want none", all, err)
		}
	})
}

func TestCreateTemplateInvalid(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		for _, tt := range []struct {
			name string
			t    Template
		}{
			{"empty name", tmpl("", "x")},
			{"upper case", tmpl("Greet", "x")},
			{"space", tmpl("a b", "x")},
			{"too long", tmpl(strings.Repeat("a", 65), "x")},
			{"no messages", Template{Name: "a"}},
			{"messages not JSON", Template{Name: "a", Messages: jsontext.Value(`[{`)}},
			{"messages not an array", Template{Name: "a", Messages: jsontext.Value(`{"role":"user"}`)}},
		} {
			if got, err := s.CreateTemplate(c, tt.t); err == nil {
				t.Errorf("%s: CreateTemplate = %+v, want an error", tt.name, got)
			}
		}
		if _, err := s.CreateTemplate(c, tmpl(strings.Repeat("a", 64)+"", "x")); err != nil {
			t.Errorf("64-character name: %v", err)
		}
		if _, err := s.CreateTemplate(c, tmpl("a-b_c.9", "x")); err != nil {
			t.Errorf("name with punctuation: %v", err)
		}
	})
}

// TestCreateTemplateConcurrent creates eight versions of one name at once:
// each version 1..8 must be handed out exactly once.
func TestCreateTemplateConcurrent(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		const n = 8
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			versions [n]int
			errs     [n]error
		)
		for i := range n {
			wg.Go(func() {
				<-start
				got, err := s.CreateTemplate(ctx(t), tmpl("race", fmt.Sprintf("creator %d", i)))
				versions[i], errs[i] = got.Version, err
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("creator %d: %v", i, err)
			}
		}
		got := slices.Sorted(slices.Values(versions[:]))
		if want := []int{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(got, want) {
			t.Errorf("versions %v, want %v", got, want)
		}
		// Each version holds the messages of the creator it was handed to.
		for i, v := range versions {
			stored, err := s.Template(ctx(t), "race", v)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("creator %d", i); !strings.Contains(string(stored.Messages), want) {
				t.Errorf("version %d holds %s, want %q", v, stored.Messages, want)
			}
		}
		latest, err := s.Template(ctx(t), "race", 0)
		if err != nil || latest.Version != n {
			t.Errorf("latest = %d, %v; want %d", latest.Version, err, n)
		}
	})
}

// TestUsageTemplate checks the template of a request round-trips through
// InsertUsage and ListRequests.
func TestUsageTemplate(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		recs := []UsageRecord{
			{RequestID: "t1", Time: ts(0), Status: 200, Template: "greet@3"},
			{RequestID: "t2", Time: ts(time.Second), Status: 200},
		}
		if err := s.InsertUsage(c, recs); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListRequests(c, RequestQuery{})
		if err != nil {
			t.Fatal(err)
		}
		want := []UsageRecord{recs[1], recs[0]}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ListRequests (-want +got):\n%s", d)
		}
	})
}

// TestInsertUsageParamLimit inserts a batch of 500 records, the size the
// usage writer flushes, each with every column set: one multi-row INSERT
// must stay under SQLite's 999-parameter limit.
func TestInsertUsageParamLimit(t *testing.T) {
	if n := strings.Count(usageColumns, ",") + 1; n != usageArity {
		t.Fatalf("usageColumns has %d columns, usageArity says %d", n, usageArity)
	}
	if n := len(usageArgs(nil, &UsageRecord{})); n != usageArity {
		t.Fatalf("usageArgs gives %d values, usageArity says %d", n, usageArity)
	}
	if usageChunk*usageArity > 999 || usageChunk < 1 {
		t.Fatalf("usageChunk %d x %d columns exceeds 999 parameters", usageChunk, usageArity)
	}
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		recs := benchRecords("limit", 0, 500)
		for i := range recs {
			recs[i].Template = fmt.Sprintf("tpl@%d", i)
			recs[i].PromptHash, recs[i].ResponseHash = "ph", "rh"
		}
		if err := s.InsertUsage(c, recs); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListRequests(c, RequestQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) {
			t.Fatalf("ListRequests: %d records, want %d", len(got), len(recs))
		}
		for _, r := range got {
			var i int
			if _, err := fmt.Sscanf(r.RequestID, "limit-%d", &i); err != nil || r.Template != fmt.Sprintf("tpl@%d", i) {
				t.Errorf("%s: template %q", r.RequestID, r.Template)
			}
		}
	})
}

// TestTemplatesMigration rolls 00003 back and forward again on a store with
// data: usage rows written before it read back with no template.
func TestTemplatesMigration(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		fsys, err := fs.Sub(migrationsFS, "migrations")
		if err != nil {
			t.Fatal(err)
		}
		p, err := goose.NewProvider(s.d.goose, s.db, fsys, goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateTemplate(c, tmpl("gone", "x")); err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(c, 2); err != nil {
			t.Fatalf("down to 2: %v", err)
		}
		if _, err := s.exec(c, `INSERT INTO usage (request_id, ts, day, status) VALUES (?, ?, ?, ?)`,
			"r-v2", ts(0).UnixMicro(), "2025-03-14", 200); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Up(c); err != nil {
			t.Fatalf("up again: %v", err)
		}
		wantMigratedOnce(t, s)
		got, err := s.ListRequests(c, RequestQuery{})
		if err != nil || len(got) != 1 || got[0].RequestID != "r-v2" || got[0].Template != "" {
			t.Errorf("ListRequests after re-migration = %+v, %v", got, err)
		}
		if _, err := s.Template(c, "gone", 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("template after down and up: %v, want ErrNotFound", err)
		}
	})
}
