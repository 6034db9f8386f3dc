package store

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pressly/goose/v3"
)

func TestKeyPrivacyRoundTrip(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		var created []Key
		for _, k := range []Key{
			{Name: "sampled", Hash: "h-sampled", Privacy: "sample", LogPrompts: true},
			{Name: "hashed", Hash: "h-hashed", Privacy: "hash"},
			{Name: "default", Hash: "h-default"},
		} {
			got, err := s.CreateKey(c, k)
			if err != nil {
				t.Fatalf("CreateKey(%s): %v", k.Name, err)
			}
			if got.Privacy != k.Privacy || got.LogPrompts != k.LogPrompts {
				t.Errorf("CreateKey(%s) returned privacy %q/%v, want %q/%v", k.Name, got.Privacy, got.LogPrompts, k.Privacy, k.LogPrompts)
			}
			created = append(created, got)
		}
		all, err := s.Keys(c)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]Key{}
		for _, k := range all {
			byID[k.ID] = k
		}
		for _, want := range created {
			byIDKey, err := s.KeyByID(c, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			byHash, err := s.KeyByHash(c, want.Hash, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			for name, got := range map[string]Key{"KeyByID": byIDKey, "KeyByHash": byHash, "Keys": byID[want.ID]} {
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("%s(%s) (-want +got):\n%s", name, want.Name, d)
				}
			}
		}
		rotated, err := s.RotateKey(c, created[0].ID, "h-sampled-2", "p2", ts(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if rotated.Privacy != "sample" || !rotated.LogPrompts {
			t.Errorf("after rotation privacy %q/%v, want sample/true", rotated.Privacy, rotated.LogPrompts)
		}
	})
}

func countRows(t *testing.T, s *sqlStore, table string) int64 {
	t.Helper()
	var n int64
	if err := s.queryRow(ctx(t), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// withoutTexts is what ListRequests returns for recs: the same records
// without their raw text.
func withoutTexts(recs []UsageRecord) []UsageRecord {
	out := slices.Clone(recs)
	for i := range out {
		out[i].PromptText, out[i].ResponseText = "", ""
	}
	return out
}

func TestRequestHashesAndTexts(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		recs := []UsageRecord{
			{RequestID: "both", Time: ts(0), KeyID: "key_a", ModelAsked: "gpt", Status: 200,
				PromptHash: "ph1", ResponseHash: "rh1", PromptText: "hello", ResponseText: "hi there"},
			{RequestID: "prompt-only", Time: ts(time.Second), Status: 502,
				PromptHash: "ph2", PromptText: "only a prompt"},
			{RequestID: "response-only", Time: ts(2 * time.Second), Status: 200, ResponseText: "only an answer"},
			{RequestID: "hashes", Time: ts(3 * time.Second), Status: 200, PromptHash: "ph4", ResponseHash: "rh4"},
			{RequestID: "bare", Time: ts(4 * time.Second), Status: 200},
		}
		if err := s.InsertUsage(c, recs); err != nil {
			t.Fatal(err)
		}
		// A replay with other text keeps the first text, and adds no row.
		replay := slices.Clone(recs[:1])
		replay[0].PromptText = "changed"
		if err := s.InsertUsage(c, replay); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "request_texts"); n != 3 {
			t.Errorf("request_texts holds %d rows, want 3 (records with text only)", n)
		}

		got, err := s.ListRequests(c, RequestQuery{})
		if err != nil {
			t.Fatal(err)
		}
		want := withoutTexts(recs)
		slices.Reverse(want)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ListRequests (-want +got):\n%s", d)
		}

		for _, r := range recs[:3] {
			rt, err := s.RequestText(c, r.RequestID)
			if err != nil {
				t.Fatalf("RequestText(%s): %v", r.RequestID, err)
			}
			wantRT := RequestText{RequestID: r.RequestID, Time: r.Time, Prompt: r.PromptText, Response: r.ResponseText}
			if d := cmp.Diff(wantRT, rt); d != "" {
				t.Errorf("RequestText(%s) (-want +got):\n%s", r.RequestID, d)
			}
		}
		for _, id := range []string{"hashes", "bare", "unknown"} {
			if _, err := s.RequestText(c, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("RequestText(%s) = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestPurgeTexts(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		var recs []UsageRecord
		for i := range 4 {
			recs = append(recs, UsageRecord{RequestID: fmt.Sprintf("t%d", i), Time: ts(time.Duration(i) * time.Hour),
				PromptText: fmt.Sprintf("prompt %d", i)})
		}
		recs = append(recs, UsageRecord{RequestID: "plain", Time: ts(0)})
		if err := s.InsertUsage(c, recs); err != nil {
			t.Fatal(err)
		}
		usageBefore := countRows(t, s, "usage")
		if usageBefore != 5 {
			t.Fatalf("usage holds %d rows, want 5", usageBefore)
		}
		if n, err := s.PurgeTexts(c, time.Time{}); err != nil || n != 0 {
			t.Errorf("PurgeTexts(zero) = %d, %v, want 0, nil", n, err)
		}
		// Before is exclusive: t2 (exactly at the cut) stays.
		n, err := s.PurgeTexts(c, ts(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("PurgeTexts deleted %d, want 2", n)
		}
		for i, wantKept := range []bool{false, false, true, true} {
			id := fmt.Sprintf("t%d", i)
			_, err := s.RequestText(c, id)
			switch {
			case wantKept && err != nil:
				t.Errorf("RequestText(%s) after purge: %v, want kept", id, err)
			case !wantKept && !errors.Is(err, ErrNotFound):
				t.Errorf("RequestText(%s) after purge: %v, want ErrNotFound", id, err)
			}
		}
		if got := countRows(t, s, "usage"); got != usageBefore {
			t.Errorf("usage holds %d rows after purge, want %d", got, usageBefore)
		}
		if n, err := s.PurgeTexts(c, ts(2*time.Hour)); err != nil || n != 0 {
			t.Errorf("second PurgeTexts = %d, %v, want 0, nil", n, err)
		}
		if got, err := s.ListRequests(c, RequestQuery{}); err != nil || len(got) != 5 {
			t.Errorf("ListRequests after purge: %d records, %v; want 5", len(got), err)
		}
	})
}

func requestIDs(recs []UsageRecord) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.RequestID
	}
	return ids
}

func TestListRequestsFilters(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		insertFixture(t, s)
		day2 := ts(24 * time.Hour)

		// The records themselves come back whole, newest first.
		got, err := s.ListRequests(ctx(t), RequestQuery{})
		if err != nil {
			t.Fatal(err)
		}
		want := usageFixture()
		slices.Reverse(want)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ListRequests (-want +got):\n%s", d)
		}

		tests := []struct {
			name string
			q    RequestQuery
			want []string
		}{
			{"all", RequestQuery{}, []string{"r4", "r3", "r2", "r1"}},
			{"key id", RequestQuery{KeyID: "key_a"}, []string{"r2", "r1"}},
			{"key name", RequestQuery{KeyName: "beta"}, []string{"r3"}},
			{"team", RequestQuery{Team: "ads"}, []string{"r4", "r3"}},
			{"model asked", RequestQuery{Model: "gpt"}, []string{"r4", "r3", "r1"}},
			{"model used is not the filter", RequestQuery{Model: "gpt-4o"}, nil},
			{"status", RequestQuery{Status: 429}, []string{"r2"}},
			{"status min", RequestQuery{StatusMin: 400}, []string{"r2"}},
			{"status max", RequestQuery{StatusMax: 299}, []string{"r4", "r3", "r1"}},
			{"status range", RequestQuery{StatusMin: 400, StatusMax: 599}, []string{"r2"}},
			{"from inclusive", RequestQuery{From: day2}, []string{"r4", "r3"}},
			{"to exclusive", RequestQuery{To: day2}, []string{"r2", "r1"}},
			{"from and to", RequestQuery{From: ts(time.Hour), To: day2.Add(time.Hour)}, []string{"r3", "r2"}},
			{"limit", RequestQuery{Limit: 2}, []string{"r4", "r3"}},
			{"before", RequestQuery{Before: "r3"}, []string{"r2", "r1"}},
			{"before and limit", RequestQuery{Before: "r4", Limit: 2}, []string{"r3", "r2"}},
			{"before the oldest", RequestQuery{Before: "r1"}, nil},
			{"before a record the filter excludes", RequestQuery{Before: "r3", Team: "search"}, []string{"r2", "r1"}},
			{"combined", RequestQuery{Team: "ads", Model: "gpt", KeyID: "key_c", Status: 200}, []string{"r4"}},
			{"nothing matches", RequestQuery{Team: "nope"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListRequests(ctx(t), tt.q)
				if err != nil {
					t.Fatalf("ListRequests: %v", err)
				}
				if d := cmp.Diff(tt.want, requestIDs(got), cmpopts.EquateEmpty()); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
			})
		}
		if _, err := s.ListRequests(ctx(t), RequestQuery{Before: "unknown"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("ListRequests(Before: unknown) = %v, want ErrNotFound", err)
		}
	})
}

// TestListRequestsPages walks the log page by page; many records share a
// timestamp, so the request id must break the ties.
func TestListRequestsPages(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		const n = 25
		recs := make([]UsageRecord, n)
		for i := range recs {
			recs[i] = UsageRecord{RequestID: fmt.Sprintf("p%02d", i), Time: ts(time.Duration(i/4) * time.Second), Status: 200}
		}
		want := requestIDs(recs)
		slices.Reverse(want) // ts then id, both ascending with i
		rand.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		if err := s.InsertUsage(c, recs); err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{1, 3, 4, 7, n, n + 1} {
			var (
				got    []string
				before string
			)
			for range n + 2 {
				page, err := s.ListRequests(c, RequestQuery{Limit: size, Before: before})
				if err != nil {
					t.Fatalf("page size %d before %q: %v", size, before, err)
				}
				if len(page) > size {
					t.Fatalf("page size %d: got %d records", size, len(page))
				}
				if len(page) == 0 {
					break
				}
				got = append(got, requestIDs(page)...)
				before = page[len(page)-1].RequestID
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("pages of %d (-want +got):\n%s", size, d)
			}
		}
	})
}

func TestListRequestsLimits(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		if err := s.InsertUsage(c, benchRecords("lim", 0, MaxRequestLimit+1)); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ limit, want int }{
			{0, DefaultRequestLimit}, {-5, DefaultRequestLimit}, {10, 10},
			{MaxRequestLimit, MaxRequestLimit}, {MaxRequestLimit + 500, MaxRequestLimit},
		} {
			got, err := s.ListRequests(c, RequestQuery{Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("Limit %d: %d records, want %d", tt.limit, len(got), tt.want)
			}
		}
		if DefaultRequestLimit != 100 || MaxRequestLimit != 1000 {
			t.Errorf("limits %d/%d, want 100/1000 as documented", DefaultRequestLimit, MaxRequestLimit)
		}
	})
}

func TestDailyUsage(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		insertFixture(t, s)
		day2 := ts(24 * time.Hour)
		tests := []struct {
			name     string
			by       string
			from, to time.Time
			want     []DailyRow
		}{
			{"team", "team", time.Time{}, time.Time{}, []DailyRow{
				{Day: "2025-03-14", Group: "search", Requests: 2, InputTokens: 15, OutputTokens: 25, CostUSD: 0.75},
				{Day: "2025-03-15", Group: "ads", Requests: 2, InputTokens: 101, OutputTokens: 51, CostUSD: 1.125}}},
			{"model", "model", time.Time{}, time.Time{}, []DailyRow{
				{Day: "2025-03-14", Group: "claude", Requests: 1, InputTokens: 5, OutputTokens: 5, CostUSD: 0.25},
				{Day: "2025-03-14", Group: "gpt", Requests: 1, InputTokens: 10, OutputTokens: 20, CostUSD: 0.5},
				{Day: "2025-03-15", Group: "gpt", Requests: 2, InputTokens: 101, OutputTokens: 51, CostUSD: 1.125}}},
			{"from inclusive", "model", day2, time.Time{}, []DailyRow{
				{Day: "2025-03-15", Group: "gpt", Requests: 2, InputTokens: 101, OutputTokens: 51, CostUSD: 1.125}}},
			{"to exclusive", "team", time.Time{}, day2, []DailyRow{
				{Day: "2025-03-14", Group: "search", Requests: 2, InputTokens: 15, OutputTokens: 25, CostUSD: 0.75}}},
			{"from and to", "model", ts(time.Hour), day2.Add(time.Hour), []DailyRow{
				{Day: "2025-03-14", Group: "claude", Requests: 1, InputTokens: 5, OutputTokens: 5, CostUSD: 0.25},
				{Day: "2025-03-15", Group: "gpt", Requests: 1, InputTokens: 100, OutputTokens: 50, CostUSD: 1.0}}},
			{"nothing", "team", ts(1000 * time.Hour), time.Time{}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.DailyUsage(ctx(t), tt.by, tt.from, tt.to)
				if err != nil {
					t.Fatalf("DailyUsage: %v", err)
				}
				if d := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-9)); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
			})
		}
		_, err := s.DailyUsage(ctx(t), "provider", time.Time{}, time.Time{})
		if err == nil || !strings.Contains(err.Error(), `"team"`) || !strings.Contains(err.Error(), `"model"`) {
			t.Errorf("DailyUsage(provider) = %v, want an error naming team and model", err)
		}
	})
}

func TestSetting(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		calls := 0
		create := func() (string, error) { calls++; return fmt.Sprintf("v%d", calls), nil }
		for range 3 {
			v, err := s.Setting(c, "secret", create)
			if err != nil {
				t.Fatal(err)
			}
			if v != "v1" {
				t.Errorf("Setting = %q, want v1", v)
			}
		}
		if calls != 1 {
			t.Errorf("create called %d times, want 1", calls)
		}
		// A failing create stores nothing; the next call creates.
		boom := errors.New("boom")
		if _, err := s.Setting(c, "other", func() (string, error) { return "", boom }); !errors.Is(err, boom) {
			t.Errorf("Setting with failing create = %v, want boom", err)
		}
		if v, err := s.Setting(c, "other", func() (string, error) { return "x", nil }); err != nil || v != "x" {
			t.Errorf("Setting(other) = %q, %v, want x", v, err)
		}
		if v, err := s.Setting(c, "secret", create); err != nil || v != "v1" {
			t.Errorf("Setting(secret) after other = %q, %v, want v1", v, err)
		}
	})
}

// TestSettingRace has replicas (separate Opens) create one setting at once:
// all must return the same, stored, value.
func TestSettingRace(t *testing.T) {
	forEachEngine(t, func(t *testing.T, driver, dsn string) {
		const n = 8
		var (
			wg      sync.WaitGroup
			opened  sync.WaitGroup // all replicas are open before any reads
			values  [n]string
			errs    [n]error
			created atomic.Int64
			start   = make(chan struct{})
		)
		opened.Add(n)
		for i := range n {
			wg.Go(func() {
				s, err := Open(ctx(t), driver, dsn)
				opened.Done()
				if err != nil {
					errs[i] = err
					return
				}
				defer s.Close()
				<-start
				values[i], errs[i] = s.Setting(ctx(t), "instance", func() (string, error) {
					created.Add(1)
					// Long enough for the others to find no value too.
					time.Sleep(50 * time.Millisecond)
					return fmt.Sprintf("replica-%d", i), nil
				})
			})
		}
		opened.Wait()
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("replica %d: %v", i, errs[i])
			}
		}
		for i := range n {
			if values[i] != values[0] {
				t.Errorf("replicas disagree: %q", values)
				break
			}
		}
		s := openStore(t, driver, dsn)
		stored, err := s.Setting(ctx(t), "instance", func() (string, error) {
			return "", errors.New("create called on a stored setting")
		})
		if err != nil || stored != values[0] {
			t.Errorf("stored setting %q, %v; replicas returned %q", stored, err, values[0])
		}
		if created.Load() < 2 {
			t.Logf("create called %d times for %d replicas: the race was not exercised", created.Load(), n)
		}
	})
}

// TestMigrateFromV1 upgrades a database written by the first schema: its
// keys and usage records read back with the new fields empty.
func TestMigrateFromV1(t *testing.T) {
	forEachEngine(t, func(t *testing.T, driver, dsn string) {
		c := ctx(t)
		var (
			db  *sql.DB
			err error
			d   dialect
		)
		if driver == "sqlite" {
			if err := os.MkdirAll(filepath.Dir(dsn), 0o755); err != nil {
				t.Fatal(err)
			}
			db, err = sql.Open("sqlite", sqliteDSN(dsn))
			d = sqliteDialect
		} else {
			db, err = sql.Open("pgx", dsn)
			d = postgresDialect
		}
		if err != nil {
			t.Fatal(err)
		}
		fsys, err := fs.Sub(migrationsFS, "migrations")
		if err != nil {
			t.Fatal(err)
		}
		p, err := goose.NewProvider(d.goose, db, fsys, goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(c, 1); err != nil {
			t.Fatal(err)
		}
		old := &sqlStore{db: db, d: d}
		if _, err := old.exec(c, `INSERT INTO keys (id, name, hash, created_at) VALUES (?, ?, ?, ?)`,
			"key_old", "old", "h-old", ts(0).UnixMicro()); err != nil {
			t.Fatal(err)
		}
		if _, err := old.exec(c, `INSERT INTO usage (request_id, ts, day, key_id, status) VALUES (?, ?, ?, ?, ?)`,
			"r-old", ts(0).UnixMicro(), "2025-03-14", "key_old", 200); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		s := openStore(t, driver, dsn)
		wantMigratedOnce(t, s)
		k, err := s.KeyByID(c, "key_old")
		if err != nil {
			t.Fatal(err)
		}
		if k.Privacy != "" || k.LogPrompts {
			t.Errorf("old key privacy %q/%v, want empty", k.Privacy, k.LogPrompts)
		}
		recs, err := s.ListRequests(c, RequestQuery{})
		if err != nil {
			t.Fatal(err)
		}
		want := []UsageRecord{{RequestID: "r-old", Time: ts(0), KeyID: "key_old", Status: 200}}
		if d := cmp.Diff(want, recs); d != "" {
			t.Errorf("old usage (-want +got):\n%s", d)
		}
		if err := s.InsertUsage(c, []UsageRecord{{RequestID: "r-new", Time: ts(time.Hour), PromptHash: "ph", PromptText: "p"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RequestText(c, "r-new"); err != nil {
			t.Errorf("RequestText after upgrade: %v", err)
		}
	})
}
