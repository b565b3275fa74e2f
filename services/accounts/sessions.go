package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
)

// Session is a console sign-in: who it is (the API key's principal, read afresh on every
// request), its CSRF token, and when it ends.
type Session struct {
	Principal
	KeyName   string
	CSRFToken string
	ExpiresAt time.Time
}

type sessionRow struct {
	TokenHash []byte
	KeyID     string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

func (sessionRow) TableName() string { return "console_sessions" }

// StartSession signs in with a plaintext API key for ttl: it returns the session's
// token, for the browser's cookie (only its hash is stored), and the session.
func (s *Service) StartSession(ctx context.Context, plaintext string, ttl time.Duration) (string, Session, error) {
	p, err := s.Authenticate(ctx, plaintext)
	if err != nil {
		return "", Session{}, err
	}
	token, csrf := randomToken(), randomToken()
	now := s.clock.Now()
	row := sessionRow{TokenHash: hashToken(token), KeyID: p.KeyID, CSRFToken: csrf, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	db := s.db.Gorm(ctx)
	if err := db.Where("expires_at < ?", now).Delete(&sessionRow{}).Error; err != nil {
		return "", Session{}, fmt.Errorf("expire sessions: %w", err)
	}
	if err := db.Create(&row).Error; err != nil {
		return "", Session{}, fmt.Errorf("start session: %w", err)
	}
	sess, err := s.SessionOf(ctx, token)
	return token, sess, err
}

// SessionOf returns the session of a token: ErrUnauthorized when it is unknown, has
// expired, or its key was revoked since.
func (s *Service) SessionOf(ctx context.Context, token string) (Session, error) {
	var row struct {
		KeyID, CSRFToken string
		ExpiresAt        time.Time
		Role             models.Role
		Scope            models.Scope
		MerchantID       *string
		Name             string
	}
	res := s.db.Gorm(ctx).Raw(`
		SELECT s.key_id, s.csrf_token, s.expires_at, k.role, k.scope, k.merchant_id, k.name
		  FROM console_sessions s JOIN api_keys k ON k.id = s.key_id
		 WHERE s.token_hash = ? AND s.expires_at > ? AND k.revoked_at IS NULL`, hashToken(token), s.clock.Now()).Scan(&row)
	if res.Error != nil {
		return Session{}, fmt.Errorf("session: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return Session{}, services.ErrUnauthorized
	}
	sess := Session{Principal: Principal{KeyID: row.KeyID, Role: row.Role, Scope: row.Scope}, KeyName: row.Name,
		CSRFToken: row.CSRFToken, ExpiresAt: row.ExpiresAt}
	if row.MerchantID != nil {
		sess.MerchantID = *row.MerchantID
	}
	return sess, nil
}

// EndSession signs a session out.
func (s *Service) EndSession(ctx context.Context, token string) error {
	if err := s.db.Gorm(ctx).Where("token_hash = ?", hashToken(token)).Delete(&sessionRow{}).Error; err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
