// Package session keeps login sessions: a random token, held by the
// browser in an HttpOnly cookie, names a user. Memory keeps them in one
// process (so a session made on one gateway replica is unknown to the
// others, the failure SEED.md describes); Redis shares them between every
// replica.
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Cookie names the session cookie.
const Cookie = "atrium_session"

// ErrNoSession reports a missing, unknown or expired session.
var ErrNoSession = domain.New(domain.Unauthenticated, "no valid session: log in with POST /api/v1/sessions")

// Store keeps sessions.
type Store interface {
	// Create starts a session for userID and returns its token.
	Create(ctx context.Context, userID string) (string, error)
	// User returns the user of a session, or ErrNoSession.
	User(ctx context.Context, token string) (string, error)
	// Delete ends a session; ending an unknown one is not an error.
	Delete(ctx context.Context, token string) error
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Memory keeps sessions in this process for TTL. Safe for concurrent use.
type Memory struct {
	TTL time.Duration

	mu sync.Mutex
	m  map[string]memoryEntry
}

type memoryEntry struct {
	user    string
	expires time.Time
}

// Create implements Store.
func (s *Memory) Create(_ context.Context, userID string) (string, error) {
	token, err := newToken()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]memoryEntry{}
	}
	now := time.Now()
	for t, e := range s.m { // keep the map to live sessions
		if now.After(e.expires) {
			delete(s.m, t)
		}
	}
	s.m[token] = memoryEntry{user: userID, expires: now.Add(s.TTL)}
	return token, nil
}

// User implements Store.
func (s *Memory) User(_ context.Context, token string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[token]
	if !ok || time.Now().After(e.expires) {
		return "", ErrNoSession
	}
	return e.user, nil
}

// Delete implements Store.
func (s *Memory) Delete(_ context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, token)
	return nil
}

// Redis keeps sessions in Redis, shared by every gateway that uses it.
type Redis struct {
	Client *redis.Client
	TTL    time.Duration
}

func key(token string) string { return "atrium:session:" + token }

// Create implements Store.
func (s Redis) Create(ctx context.Context, userID string) (string, error) {
	token, err := newToken()
	if err != nil {
		return "", err
	}
	if err := s.Client.Set(ctx, key(token), userID, s.TTL).Err(); err != nil {
		return "", fmt.Errorf("session: redis set: %w", err)
	}
	return token, nil
}

// User implements Store.
func (s Redis) User(ctx context.Context, token string) (string, error) {
	user, err := s.Client.Get(ctx, key(token)).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNoSession
	}
	if err != nil {
		return "", fmt.Errorf("session: redis get: %w", err)
	}
	return user, nil
}

// Delete implements Store.
func (s Redis) Delete(ctx context.Context, token string) error {
	if err := s.Client.Del(ctx, key(token)).Err(); err != nil {
		return fmt.Errorf("session: redis del: %w", err)
	}
	return nil
}

var (
	_ Store = (*Memory)(nil)
	_ Store = Redis{}
)
