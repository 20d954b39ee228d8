package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/storage"
)

type tlsConfig = *tls.Config

// Security is how the SMTP connection is protected.
type Security string

// SMTP security modes.
const (
	SecurityNone     Security = "none"     // plain text (a local relay)
	SecurityStartTLS Security = "starttls" // upgrade on the submission port, usually 587
	SecurityTLS      Security = "tls"      // TLS from the start, usually 465
)

// ParseSecurity reads "none", "starttls" or "tls".
func ParseSecurity(s string) (Security, error) {
	switch Security(strings.ToLower(s)) {
	case SecurityNone, SecurityStartTLS, SecurityTLS:
		return Security(strings.ToLower(s)), nil
	}
	return "", fmt.Errorf("unknown security %q: use none, starttls or tls", s)
}

// SMTP is the server's e-mail settings. The password is kept apart (see
// Secrets); Verified marks the settings with which the last test e-mail
// went out. The mark is a hash of the settings and of a random stamp kept
// beside the password in Secrets: nothing in the Manager store is derived
// from the password, so a Manager backup gives nobody a way to test
// guesses of it offline.
type SMTP struct {
	Host     string   `json:"host"`
	Port     int      `json:"port"`
	Security Security `json:"security"`
	User     string   `json:"user,omitempty"`
	From     string   `json:"from"`
	Verified string   `json:"verified,omitempty"`
	TestedAt string   `json:"testedAt,omitempty"`
}

var smtpSettings = storage.NewCollection[SMTP]("setting")

const (
	smtpKey      = "smtp"
	smtpPassword = "smtp-password"
	// smtpStamp is a random value set with every new password, so that a
	// new password makes the last test count no more.
	smtpStamp = "smtp-stamp"
)

func (s *Service) secretStore() (Secrets, error) {
	if s.secrets == nil {
		return nil, errors.New("no place to keep the SMTP password is set up")
	}
	return s.secrets, nil
}

// SecretsWhere says where the SMTP password is kept.
func (s *Service) SecretsWhere() string {
	if s.secrets == nil {
		return "nowhere yet"
	}
	return s.secrets.Where()
}

// SMTPSettings returns the e-mail settings (zero when none are saved).
func (s *Service) SMTPSettings(ctx context.Context) (SMTP, error) {
	var c SMTP
	err := s.store.View(func(tx *storage.Tx) error {
		var err error
		c, err = smtpSettings.Get(tx, smtpKey)
		if errors.Is(err, storage.ErrNotFound) {
			err = nil
		}
		return err
	})
	return c, err
}

// mark identifies the settings and the password's stamp together, so that
// any change makes the last test count no more.
func mark(c SMTP, stamp string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{"plinth smtp mark 2", c.Host, strconv.Itoa(c.Port), string(c.Security), c.User, c.From, stamp}, "\x00")))
	return hex.EncodeToString(h[:])
}

// legacyMark is how Plinth before 0.3 marked a tested configuration: an
// unsalted hash of the settings and the password itself. It is only read,
// to replace it (upgradeMark).
func legacyMark(c SMTP, password string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{c.Host, strconv.Itoa(c.Port), string(c.Security), c.User, c.From, password}, "\x00")))
	return hex.EncodeToString(h[:])
}

func newStamp() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new SMTP stamp: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// SetSMTP saves the e-mail settings and, when setPassword, the password.
// Saving resets the test: e-mail stays off until a test succeeds with the
// new settings. It needs Modify details on the Servers page.
func (s *Service) SetSMTP(ctx context.Context, actor account.Actor, c SMTP, password string, setPassword bool) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	c.Host = strings.TrimSpace(c.Host)
	switch {
	case c.Host == "":
		return errors.New("the SMTP host is missing")
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("%d is not a port number", c.Port)
	}
	if _, err := ParseSecurity(string(c.Security)); err != nil {
		return err
	}
	if c.Security == SecurityNone && c.User != "" {
		return errors.New("an SMTP password is sent only over an encrypted connection: choose STARTTLS or TLS, or leave the user empty for a relay without login")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("the sender %q is not an e-mail address", c.From)
	}
	if setPassword {
		sec, err := s.secretStore()
		if err != nil {
			return err
		}
		if password == "" {
			err = errors.Join(sec.Delete(smtpPassword), sec.Delete(smtpStamp))
		} else {
			var stamp string
			if stamp, err = newStamp(); err == nil {
				err = sec.Set(smtpPassword, password)
			}
			if err == nil {
				err = sec.Set(smtpStamp, stamp)
			}
		}
		if err != nil {
			return fmt.Errorf("keep the SMTP password in %s: %w", sec.Where(), err)
		}
	}
	c.Verified, c.TestedAt = "", ""
	return s.store.Update(func(tx *storage.Tx) error { return smtpSettings.Put(tx, smtpKey, c) })
}

func (s *Service) password() (string, error) {
	sec, err := s.secretStore()
	if err != nil {
		return "", err
	}
	return sec.Get(smtpPassword)
}

// stamp returns the password's stamp ("" when no password is set).
func (s *Service) stamp() (string, error) {
	sec, err := s.secretStore()
	if err != nil {
		return "", err
	}
	return sec.Get(smtpStamp)
}

// verified reports whether the last test e-mail went out with exactly the
// current settings and password. A mark of the old, password-derived form
// is replaced on the way (upgradeMark).
func (s *Service) verified(ctx context.Context, c SMTP) (bool, error) {
	if c.Verified == "" {
		return false, nil
	}
	stamp, err := s.stamp()
	if err != nil {
		return false, err
	}
	if c.Verified == mark(c, stamp) {
		return true, nil
	}
	return s.upgradeMark(ctx, c)
}

// upgradeMark replaces a mark of the old form (a hash of the settings and
// the password) with one of the new form, when it still matches.
func (s *Service) upgradeMark(ctx context.Context, c SMTP) (bool, error) {
	pw, err := s.password()
	if err != nil || c.Verified != legacyMark(c, pw) {
		return false, err
	}
	sec, err := s.secretStore()
	if err != nil {
		return false, err
	}
	stamp := ""
	if pw != "" {
		if stamp, err = newStamp(); err != nil {
			return false, err
		}
		if err := sec.Set(smtpStamp, stamp); err != nil {
			return false, fmt.Errorf("keep the SMTP stamp in %s: %w", sec.Where(), err)
		}
	}
	c.Verified = mark(c, stamp)
	if err := s.store.Update(func(tx *storage.Tx) error { return smtpSettings.Put(tx, smtpKey, c) }); err != nil {
		return false, err
	}
	s.log.Info("replaced the SMTP test mark with one that does not depend on the password")
	return true, nil
}

// EmailReady reports whether e-mail can be sent, and if not why, in words
// for the window: until a test e-mail succeeded with the current settings,
// nobody's "Receive in email" can be on.
func (s *Service) EmailReady(ctx context.Context) (bool, string) {
	c, err := s.SMTPSettings(ctx)
	if err != nil {
		return false, err.Error()
	}
	if c.Host == "" {
		return false, "no SMTP server is set up (Servers › Manager › Settings › Email)"
	}
	ok, err := s.verified(ctx, c)
	if err != nil {
		return false, err.Error()
	}
	if !ok {
		return false, "no test e-mail has succeeded with the current SMTP settings; send one first"
	}
	if c.User != "" {
		if pw, err := s.password(); err != nil || pw == "" {
			return false, "the SMTP password is missing from " + s.SecretsWhere() + "; enter it again and send a test e-mail"
		}
	}
	return true, ""
}

// TestSMTP sends a test e-mail to the address with the current settings.
// When it goes out, e-mail is ready. It needs Modify details on the
// Servers page.
func (s *Service) TestSMTP(ctx context.Context, actor account.Actor, to string) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	if _, err := mail.ParseAddress(to); err != nil {
		return fmt.Errorf("%q is not an e-mail address", to)
	}
	c, err := s.SMTPSettings(ctx)
	if err != nil {
		return err
	}
	if c.Host == "" {
		return errors.New("save the SMTP settings first")
	}
	pw, err := s.password()
	if err != nil {
		return err
	}
	err = s.send(ctx, c, pw, to, "Plinth test e-mail",
		"This is a test e-mail from Plinth. E-mail notifications can now be switched on per user.",
		"Servers › Manager › Settings › Email")
	if err != nil {
		return err
	}
	stamp, err := s.stamp()
	if err != nil {
		return err
	}
	if pw != "" && stamp == "" {
		// A password kept before stamps existed: give it one now.
		if stamp, err = newStamp(); err != nil {
			return err
		}
		sec, err := s.secretStore()
		if err != nil {
			return err
		}
		if err := sec.Set(smtpStamp, stamp); err != nil {
			return fmt.Errorf("keep the SMTP stamp in %s: %w", sec.Where(), err)
		}
	}
	c.Verified, c.TestedAt = mark(c, stamp), s.now().UTC().Format(time.RFC3339)
	return s.store.Update(func(tx *storage.Tx) error { return smtpSettings.Put(tx, smtpKey, c) })
}

func (s *Service) sendEmail(ctx context.Context, o Outgoing) error {
	if ok, why := s.EmailReady(ctx); !ok {
		return errors.New(why)
	}
	c, err := s.SMTPSettings(ctx)
	if err != nil {
		return err
	}
	pw, err := s.password()
	if err != nil {
		return err
	}
	return s.send(ctx, c, pw, o.Address, About(o.Kind).Title, o.Text, TargetLabel(o.Target))
}

// send delivers one message, plain text with an HTML alternative, both
// saying which panel of Plinth to open.
func (s *Service) send(ctx context.Context, c SMTP, password, to, title, text, open string) error {
	m := gomail.NewMsg()
	if err := m.From(c.From); err != nil {
		return fmt.Errorf("the sender %q is not an e-mail address", c.From)
	}
	if err := m.To(to); err != nil {
		return fmt.Errorf("%q is not an e-mail address", to)
	}
	m.Subject("[Plinth] " + title)
	m.SetDate()
	m.SetMessageID()
	m.SetBodyString(gomail.TypeTextPlain, text+"\n\nOpen in Plinth: "+open+"\n")
	m.AddAlternativeString(gomail.TypeTextHTML, "<p>"+html.EscapeString(text)+"</p>\n<p><b>Open in Plinth:</b> "+html.EscapeString(open)+"</p>\n")

	opts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(20 * time.Second)}
	switch c.Security {
	case SecurityNone:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.NoTLS))
	case SecurityStartTLS:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSMandatory))
	case SecurityTLS:
		opts = append(opts, gomail.WithSSLPort(false))
	}
	if s.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(s.TLSConfig))
	}
	if c.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(c.User), gomail.WithPassword(password))
	}
	client, err := gomail.NewClient(c.Host, opts...)
	if err != nil {
		return fmt.Errorf("set up the SMTP client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("send e-mail through %s:%d: %w", c.Host, c.Port, err)
	}
	return nil
}
