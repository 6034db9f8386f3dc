package store

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTeams(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		in := []Team{
			{
				Name:     "search",
				Models:   []string{"gpt-4o", "claude-sonnet"},
				Limits:   Limits{RPM: 100, TPM: 50000, MaxParallel: 4},
				Budget:   Budget{USD: 12.5, Period: "monthly"},
				Metadata: map[string]string{"owner": "ana", "cost_center": "42"},
				Policy:   "strict",
			},
			{Name: "ads", ID: "team_fixed"},
		}
		var created []Team
		for _, tm := range in {
			before := time.Now().UTC().Add(-time.Second)
			got, err := s.CreateTeam(c, tm)
			if err != nil {
				t.Fatalf("CreateTeam(%s): %v", tm.Name, err)
			}
			if tm.ID == "" && (len(got.ID) != len("team_")+16 || got.ID[:5] != "team_") {
				t.Errorf("generated ID %q, want team_ + 16 hex", got.ID)
			}
			if tm.ID != "" && got.ID != tm.ID {
				t.Errorf("ID = %q, want the given %q", got.ID, tm.ID)
			}
			if got.CreatedAt.Before(before) || got.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt = %v, want now in UTC", got.CreatedAt)
			}
			created = append(created, got)
		}

		for _, want := range created {
			got, err := s.Team(c, want.Name)
			if err != nil {
				t.Fatalf("Team(%s): %v", want.Name, err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Team(%s) round trip (-want +got):\n%s", want.Name, d)
			}
		}

		all, err := s.Teams(c)
		if err != nil {
			t.Fatalf("Teams: %v", err)
		}
		// Ordered by name.
		if d := cmp.Diff([]Team{created[1], created[0]}, all); d != "" {
			t.Errorf("Teams (-want +got):\n%s", d)
		}

		if _, err := s.CreateTeam(c, Team{Name: "search"}); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateTeam(taken name) = %v, want ErrConflict", err)
		}
		if _, err := s.Team(c, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Team(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.CreateTeam(c, Team{}); err == nil {
			t.Error("CreateTeam(empty name) succeeded")
		}
	})
}

func TestTeamsEmpty(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		all, err := s.Teams(ctx(t))
		if err != nil || len(all) != 0 {
			t.Errorf("Teams on empty store = %v, %v; want none", all, err)
		}
	})
}
