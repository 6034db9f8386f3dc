package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrRevoked is returned by RotateKey for a revoked key. It wraps
// ErrNotFound: a revoked key is gone for every purpose but the audit trail,
// so callers that only check ErrNotFound still answer sensibly.
var ErrRevoked = fmt.Errorf("store: key is revoked: %w", ErrNotFound)

const keyColumns = `id, name, team, prefix, hash, old_hash, old_until, models, endpoints,
	rpm, tpm, max_parallel, budget_usd, budget_period, metadata, expires_at, revoked_at, created_at,
	privacy, log_prompts, policy, no_cache`

func (s *sqlStore) CreateKey(ctx context.Context, k Key) (Key, error) {
	if k.Hash == "" {
		return Key{}, errors.New("store: create key: empty hash")
	}
	if k.ID == "" {
		k.ID = newID("key_")
	}
	k.CreatedAt = now()
	models, err := encodeList(k.Models)
	if err != nil {
		return Key{}, fmt.Errorf("store: create key: models: %w", err)
	}
	endpoints, err := encodeList(k.Endpoints)
	if err != nil {
		return Key{}, fmt.Errorf("store: create key: endpoints: %w", err)
	}
	meta, err := encodeMap(k.Metadata)
	if err != nil {
		return Key{}, fmt.Errorf("store: create key: metadata: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO keys (`+keyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Team, k.Prefix, k.Hash, k.OldHash, toMicro(k.OldUntil), models, endpoints,
		k.RPM, k.TPM, k.MaxParallel, k.Budget.USD, k.Budget.Period, meta,
		toMicro(k.ExpiresAt), toMicro(k.RevokedAt), toMicro(k.CreatedAt),
		k.Privacy, boolInt(k.LogPrompts), k.Policy, boolInt(k.NoCache))
	// The unique constraints are the id, the hash and the name among live
	// keys (a partial index); any of them taken is a conflict.
	if isUniqueViolation(err) {
		return Key{}, fmt.Errorf("store: create key %q: %w", k.Name, ErrConflict)
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: create key %q: %w", k.Name, err)
	}
	// Report times as they will read back.
	k.OldUntil = fromMicro(toMicro(k.OldUntil))
	k.ExpiresAt = fromMicro(toMicro(k.ExpiresAt))
	k.RevokedAt = fromMicro(toMicro(k.RevokedAt))
	return k, nil
}

func (s *sqlStore) KeyByHash(ctx context.Context, hash string, now time.Time) (Key, error) {
	// Should a current hash ever equal another key's previous hash, the
	// current one wins.
	k, err := scanKey(s.queryRow(ctx, `SELECT `+keyColumns+` FROM keys
		WHERE hash = ? OR (old_hash = ? AND old_until > ?)
		ORDER BY CASE WHEN hash = ? THEN 0 ELSE 1 END
		LIMIT 1`, hash, hash, toMicro(now), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, fmt.Errorf("store: key by hash: %w", ErrNotFound)
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: key by hash: %w", err)
	}
	return k, nil
}

func (s *sqlStore) KeyByID(ctx context.Context, id string) (Key, error) {
	k, err := scanKey(s.queryRow(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, fmt.Errorf("store: key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: key %s: %w", id, err)
	}
	return k, nil
}

func (s *sqlStore) Keys(ctx context.Context) ([]Key, error) {
	rows, err := s.query(ctx, `SELECT `+keyColumns+` FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: keys: %w", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: keys: %w", err)
	}
	return out, nil
}

// RevokeKey marks a key revoked at at (now when zero). Revoking a revoked key
// keeps the first revocation time and succeeds.
func (s *sqlStore) RevokeKey(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	res, err := s.exec(ctx, `UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, toMicro(at), id)
	if err != nil {
		return fmt.Errorf("store: revoke key %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return nil
	}
	if _, err := s.KeyByID(ctx, id); err != nil {
		return fmt.Errorf("store: revoke key: %w", err)
	}
	return nil
}

func (s *sqlStore) RotateKey(ctx context.Context, id, newHash, newPrefix string, oldUntil time.Time) (Key, error) {
	if newHash == "" {
		return Key{}, errors.New("store: rotate key: empty hash")
	}
	// One statement, so concurrent rotations cannot interleave; the
	// right-hand side "hash" is the value before the update on both engines.
	res, err := s.exec(ctx, `UPDATE keys SET old_hash = hash, old_until = ?, hash = ?, prefix = ?
		WHERE id = ? AND revoked_at = 0`, toMicro(oldUntil), newHash, newPrefix, id)
	if isUniqueViolation(err) {
		return Key{}, fmt.Errorf("store: rotate key %s: new hash: %w", id, ErrConflict)
	}
	if err != nil {
		return Key{}, fmt.Errorf("store: rotate key %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Key{}, fmt.Errorf("store: rotate key %s: %w", id, err)
	}
	k, err := s.KeyByID(ctx, id)
	if err != nil {
		return Key{}, fmt.Errorf("store: rotate key: %w", err)
	}
	if n == 0 && !k.RevokedAt.IsZero() {
		return Key{}, fmt.Errorf("store: rotate key %s: %w", id, ErrRevoked)
	}
	return k, nil
}

func scanKey(r scanner) (Key, error) {
	var (
		k                                        Key
		models, endpoints, meta                  string
		oldUntil, expires, revoked, createdMicro int64
		logPrompts, noCache                      int64
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Team, &k.Prefix, &k.Hash, &k.OldHash, &oldUntil,
		&models, &endpoints, &k.RPM, &k.TPM, &k.MaxParallel, &k.Budget.USD, &k.Budget.Period,
		&meta, &expires, &revoked, &createdMicro, &k.Privacy, &logPrompts,
		&k.Policy, &noCache); err != nil {
		return Key{}, err
	}
	var err error
	if k.Models, err = decodeList(models); err != nil {
		return Key{}, fmt.Errorf("key %s models: %w", k.ID, err)
	}
	if k.Endpoints, err = decodeList(endpoints); err != nil {
		return Key{}, fmt.Errorf("key %s endpoints: %w", k.ID, err)
	}
	if k.Metadata, err = decodeMap(meta); err != nil {
		return Key{}, fmt.Errorf("key %s metadata: %w", k.ID, err)
	}
	k.OldUntil = fromMicro(oldUntil)
	k.ExpiresAt = fromMicro(expires)
	k.RevokedAt = fromMicro(revoked)
	k.CreatedAt = fromMicro(createdMicro)
	k.LogPrompts = logPrompts != 0
	k.NoCache = noCache != 0
	return k, nil
}
