package store

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestKeysCreateAndGet(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		full := Key{
			Name:      "ci-bot",
			Team:      "search",
			Prefix:    "sk-sb-ab12",
			Hash:      "hash-full",
			Models:    []string{"gpt-4o-mini"},
			Endpoints: []string{"/v1/chat/completions", "/v1/embeddings"},
			Limits:    Limits{RPM: 10, TPM: 1000, MaxParallel: 2},
			Budget:    Budget{USD: 3.25, Period: "daily"},
			Metadata:  map[string]string{"env": "ci"},
			Policy:    "strict",
			NoCache:   true,
			ExpiresAt: ts(48 * time.Hour),
		}
		bare := Key{ID: "key_given", Name: "bare", Hash: "hash-bare"}

		var created []Key
		for _, k := range []Key{full, bare} {
			got, err := s.CreateKey(c, k)
			if err != nil {
				t.Fatalf("CreateKey(%s): %v", k.Name, err)
			}
			if got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt = %v, want now in UTC", got.CreatedAt)
			}
			created = append(created, got)
		}
		if id := created[0].ID; len(id) != len("key_")+16 || id[:4] != "key_" {
			t.Errorf("generated ID %q, want key_ + 16 hex", id)
		}
		if created[1].ID != "key_given" {
			t.Errorf("ID = %q, want the given key_given", created[1].ID)
		}

		for _, want := range created {
			byID, err := s.KeyByID(c, want.ID)
			if err != nil {
				t.Fatalf("KeyByID(%s): %v", want.ID, err)
			}
			if d := cmp.Diff(want, byID); d != "" {
				t.Errorf("KeyByID round trip (-want +got):\n%s", d)
			}
			byHash, err := s.KeyByHash(c, want.Hash, time.Now())
			if err != nil {
				t.Fatalf("KeyByHash(%s): %v", want.Hash, err)
			}
			if d := cmp.Diff(want, byHash); d != "" {
				t.Errorf("KeyByHash round trip (-want +got):\n%s", d)
			}
		}

		all, err := s.Keys(c)
		if err != nil {
			t.Fatalf("Keys: %v", err)
		}
		if len(all) != 2 {
			t.Fatalf("Keys returned %d keys, want 2", len(all))
		}
		byID := map[string]Key{}
		for _, k := range all {
			byID[k.ID] = k
		}
		for _, want := range created {
			if d := cmp.Diff(want, byID[want.ID]); d != "" {
				t.Errorf("Keys entry %s (-want +got):\n%s", want.ID, d)
			}
		}
	})
}

func TestKeysErrors(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		k, err := s.CreateKey(c, Key{Name: "dup", Hash: "h1"})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			run  func() error
			want error
		}{
			{"live name taken", func() error { _, err := s.CreateKey(c, Key{Name: "dup", Hash: "h2"}); return err }, ErrConflict},
			{"hash taken", func() error { _, err := s.CreateKey(c, Key{Name: "other", Hash: "h1"}); return err }, ErrConflict},
			{"id taken", func() error { _, err := s.CreateKey(c, Key{ID: k.ID, Name: "x", Hash: "h3"}); return err }, ErrConflict},
			{"by id unknown", func() error { _, err := s.KeyByID(c, "key_nope"); return err }, ErrNotFound},
			{"by hash unknown", func() error { _, err := s.KeyByHash(c, "nope", time.Now()); return err }, ErrNotFound},
			{"revoke unknown", func() error { return s.RevokeKey(c, "key_nope", time.Now()) }, ErrNotFound},
			{"rotate unknown", func() error { _, err := s.RotateKey(c, "key_nope", "h9", "p", time.Now()); return err }, ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.run(); !errors.Is(err, tt.want) {
					t.Errorf("got %v, want %v", err, tt.want)
				}
			})
		}
		if _, err := s.CreateKey(c, Key{Name: "nohash"}); err == nil {
			t.Error("CreateKey without hash succeeded")
		}
	})
}

func TestKeysRevoke(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		k, err := s.CreateKey(c, Key{Name: "old", Hash: "h-old"})
		if err != nil {
			t.Fatal(err)
		}
		at := ts(0)
		if err := s.RevokeKey(c, k.ID, at); err != nil {
			t.Fatalf("RevokeKey: %v", err)
		}
		// Revoking again succeeds and keeps the first time.
		if err := s.RevokeKey(c, k.ID, at.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeKey again: %v", err)
		}
		// Revoked keys are still returned; the caller decides.
		got, err := s.KeyByHash(c, "h-old", time.Now())
		if err != nil {
			t.Fatalf("KeyByHash(revoked): %v", err)
		}
		if !got.RevokedAt.Equal(at) {
			t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, at)
		}
		// The name of a revoked key is free again.
		if _, err := s.CreateKey(c, Key{Name: "old", Hash: "h-new"}); err != nil {
			t.Errorf("CreateKey reusing a revoked key's name: %v", err)
		}
		// A revoked key cannot be rotated.
		if _, err := s.RotateKey(c, k.ID, "h-rot", "p", time.Now().Add(time.Hour)); !errors.Is(err, ErrRevoked) || !errors.Is(err, ErrNotFound) {
			t.Errorf("RotateKey(revoked) = %v, want ErrRevoked wrapping ErrNotFound", err)
		}
	})
}

func TestKeysRotate(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		// Policy and NoCache survive a rotation.
		k, err := s.CreateKey(c, Key{Name: "svc", Prefix: "sk-1", Hash: "h-1", Models: []string{"m"}, Policy: "strict", NoCache: true})
		if err != nil {
			t.Fatal(err)
		}
		grace := ts(time.Hour)
		rotated, err := s.RotateKey(c, k.ID, "h-2", "sk-2", grace)
		if err != nil {
			t.Fatalf("RotateKey: %v", err)
		}
		want := k
		want.Hash, want.Prefix, want.OldHash, want.OldUntil = "h-2", "sk-2", "h-1", grace
		if d := cmp.Diff(want, rotated); d != "" {
			t.Errorf("RotateKey result (-want +got):\n%s", d)
		}

		lookups := []struct {
			name  string
			hash  string
			now   time.Time
			found bool
		}{
			{"new hash", "h-2", grace.Add(24 * time.Hour), true},
			{"old hash within grace", "h-1", grace.Add(-time.Microsecond), true},
			{"old hash at end of grace", "h-1", grace, false},
			{"old hash after grace", "h-1", grace.Add(time.Minute), false},
		}
		for _, l := range lookups {
			t.Run(l.name, func(t *testing.T) {
				got, err := s.KeyByHash(c, l.hash, l.now)
				switch {
				case l.found && err != nil:
					t.Fatalf("KeyByHash: %v", err)
				case l.found && got.ID != k.ID:
					t.Errorf("KeyByHash found %s, want %s", got.ID, k.ID)
				case !l.found && !errors.Is(err, ErrNotFound):
					t.Errorf("KeyByHash = %v, %v; want ErrNotFound", got.ID, err)
				}
			})
		}

		// A second rotation replaces the previous hash: h-1 is gone at once.
		if _, err := s.RotateKey(c, k.ID, "h-3", "sk-3", grace); err != nil {
			t.Fatalf("second RotateKey: %v", err)
		}
		if _, err := s.KeyByHash(c, "h-1", ts(0)); !errors.Is(err, ErrNotFound) {
			t.Errorf("hash from two rotations ago: %v, want ErrNotFound", err)
		}
		if got, err := s.KeyByHash(c, "h-2", ts(0)); err != nil || got.ID != k.ID {
			t.Errorf("previous hash within grace: %v, %v", got.ID, err)
		}
		// Rotating to a hash another key holds is a conflict.
		other, err := s.CreateKey(c, Key{Name: "other", Hash: "h-other"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RotateKey(c, other.ID, "h-3", "p", grace); !errors.Is(err, ErrConflict) {
			t.Errorf("RotateKey to a taken hash = %v, want ErrConflict", err)
		}
	})
}
