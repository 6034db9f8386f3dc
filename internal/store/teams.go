package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const teamColumns = `id, name, models, rpm, tpm, max_parallel, budget_usd, budget_period, metadata, created_at, policy`

func (s *sqlStore) CreateTeam(ctx context.Context, t Team) (Team, error) {
	if t.Name == "" {
		return Team{}, errors.New("store: create team: empty name")
	}
	if t.ID == "" {
		t.ID = newID("team_")
	}
	t.CreatedAt = now()
	models, err := encodeList(t.Models)
	if err != nil {
		return Team{}, fmt.Errorf("store: create team: models: %w", err)
	}
	meta, err := encodeMap(t.Metadata)
	if err != nil {
		return Team{}, fmt.Errorf("store: create team: metadata: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO teams (`+teamColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, models, t.RPM, t.TPM, t.MaxParallel, t.Budget.USD, t.Budget.Period, meta, toMicro(t.CreatedAt),
		t.Policy)
	if isUniqueViolation(err) {
		return Team{}, fmt.Errorf("store: create team %q: %w", t.Name, ErrConflict)
	}
	if err != nil {
		return Team{}, fmt.Errorf("store: create team %q: %w", t.Name, err)
	}
	return t, nil
}

func (s *sqlStore) Team(ctx context.Context, name string) (Team, error) {
	t, err := scanTeam(s.queryRow(ctx, `SELECT `+teamColumns+` FROM teams WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Team{}, fmt.Errorf("store: team %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Team{}, fmt.Errorf("store: team %q: %w", name, err)
	}
	return t, nil
}

func (s *sqlStore) Teams(ctx context.Context) ([]Team, error) {
	rows, err := s.query(ctx, `SELECT `+teamColumns+` FROM teams ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: teams: %w", err)
	}
	defer rows.Close()
	var out []Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, fmt.Errorf("store: teams: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: teams: %w", err)
	}
	return out, nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

func scanTeam(r scanner) (Team, error) {
	var (
		t             Team
		models, meta  string
		createdMicros int64
	)
	if err := r.Scan(&t.ID, &t.Name, &models, &t.RPM, &t.TPM, &t.MaxParallel,
		&t.Budget.USD, &t.Budget.Period, &meta, &createdMicros, &t.Policy); err != nil {
		return Team{}, err
	}
	var err error
	if t.Models, err = decodeList(models); err != nil {
		return Team{}, fmt.Errorf("team %s models: %w", t.ID, err)
	}
	if t.Metadata, err = decodeMap(meta); err != nil {
		return Team{}, fmt.Errorf("team %s metadata: %w", t.ID, err)
	}
	t.CreatedAt = fromMicro(createdMicros)
	return t, nil
}
