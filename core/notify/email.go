package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
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

// checkSMTP says what is wrong with settings, or returns them tidied up.
func checkSMTP(c SMTP) (SMTP, error) {
	c.Host = strings.TrimSpace(c.Host)
	c.Verified, c.TestedAt = "", ""
	switch {
	case c.Host == "":
		return c, errors.New("the SMTP host is missing")
	case c.Port < 1 || c.Port > 65535:
		return c, fmt.Errorf("%d is not a port number", c.Port)
	}
	if _, err := ParseSecurity(string(c.Security)); err != nil {
		return c, err
	}
	if c.Security == SecurityNone && c.User != "" {
		return c, errors.New("an SMTP password is sent only over an encrypted connection: choose STARTTLS or TLS, or leave the user empty for a relay without login")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return c, fmt.Errorf("the sender %q is not an e-mail address", c.From)
	}
	return c, nil
}

// SetSMTP saves the e-mail settings and, when setPassword, the password.
// Saving resets the test: e-mail stays off until a test succeeds with the
// new settings, unless the last test (TestSMTPSettings) went out with
// exactly the settings and password saved now. It needs Modify details on
// the Servers page.
func (s *Service) SetSMTP(ctx context.Context, actor account.Actor, c SMTP, password string, setPassword bool) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	c, err := checkSMTP(c)
	if err != nil {
		return err
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
	if t, ok := s.smtp.take(); ok {
		pw, err := password, error(nil)
		if !setPassword {
			pw, err = s.password()
		}
		if err == nil && t.key == s.smtp.key(c, pw) {
			stamp, err := s.stampFor(pw)
			if err != nil {
				return err
			}
			c.Verified, c.TestedAt = mark(c, stamp), t.at
		}
	}
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

// stampFor returns the stamp of the password pw, giving a password kept
// before stamps existed one now.
func (s *Service) stampFor(pw string) (string, error) {
	stamp, err := s.stamp()
	if err != nil || pw == "" || stamp != "" {
		return stamp, err
	}
	if stamp, err = newStamp(); err != nil {
		return "", err
	}
	sec, err := s.secretStore()
	if err != nil {
		return "", err
	}
	if err := sec.Set(smtpStamp, stamp); err != nil {
		return "", fmt.Errorf("keep the SMTP stamp in %s: %w", sec.Where(), err)
	}
	return stamp, nil
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

// TestSMTP sends a test e-mail to the address with the saved settings.
// When it goes out, e-mail is ready. It needs Modify details on the
// Servers page.
func (s *Service) TestSMTP(ctx context.Context, actor account.Actor, to string) error {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return err
	}
	c, err := s.SMTPSettings(ctx)
	if err != nil {
		return err
	}
	if c.Host == "" {
		return errors.New("save the SMTP settings first")
	}
	ready, err := s.TestSMTPSettings(ctx, actor, c, "", false, to)
	if err == nil && !ready {
		err = errors.New("the SMTP settings changed while the test e-mail went out; send another")
	}
	return err
}

// TestSMTPSettings sends a test e-mail to the address with the settings c
// and, when setPassword, password, else the saved password: what a form
// shows, saved or not. It saves nothing. When c and the password are the
// saved ones, e-mail is ready at once and it reports true; otherwise the
// success counts only when SetSMTP next saves exactly these settings and
// this password, so that the mark that lets e-mail be switched on always
// belongs to the saved settings. It needs Modify details on the Servers
// page, as saving them does.
func (s *Service) TestSMTPSettings(ctx context.Context, actor account.Actor, c SMTP, password string, setPassword bool, to string) (ready bool, err error) {
	if err := s.acc.Check(ctx, actor, account.ServersPage, account.ModifyDetails); err != nil {
		return false, err
	}
	if _, err := mail.ParseAddress(to); err != nil {
		return false, fmt.Errorf("%q is not an e-mail address", to)
	}
	if c, err = checkSMTP(c); err != nil {
		return false, err
	}
	pw := password
	if !setPassword {
		if pw, err = s.password(); err != nil {
			return false, err
		}
	}
	s.smtp.forget() // a test that fails takes back an earlier success
	err = s.send(ctx, c, pw, to, "Plinth test e-mail",
		"This is a test e-mail from Plinth. E-mail notifications can now be switched on per user.",
		"Servers › Manager › Settings › Email")
	if err != nil {
		return false, err
	}
	// Compare with what is saved now, after the wait: the settings may
	// have been saved meanwhile.
	savedPw, err := s.password()
	if err != nil || subtle.ConstantTimeCompare([]byte(savedPw), []byte(pw)) != 1 {
		s.smtp.remember(c, pw, s.now())
		return false, nil
	}
	stamp, err := s.stampFor(pw)
	if err != nil {
		return false, err
	}
	err = s.store.Update(func(tx *storage.Tx) error {
		saved, err := smtpSettings.Get(tx, smtpKey)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if saved.Host == "" || !sameSMTP(saved, c) {
			return nil
		}
		ready = true
		c.Verified, c.TestedAt = mark(c, stamp), s.now().UTC().Format(time.RFC3339)
		return smtpSettings.Put(tx, smtpKey, c)
	})
	if err == nil && !ready {
		s.smtp.remember(c, pw, s.now())
	}
	return ready, err
}

// sameSMTP reports whether two settings are the same but for their test.
func sameSMTP(a, b SMTP) bool {
	a.Verified, a.TestedAt, b.Verified, b.TestedAt = "", "", "", ""
	return a == b
}

// smtpTimeout bounds connecting to the SMTP server and each exchange with
// it: a server that does not answer is told in seconds, not minutes.
const smtpTimeout = 10 * time.Second

// smtpState is what the service remembers of e-mail in memory: the last
// test of settings not saved yet, so that saving exactly those counts as
// tested. The password takes part only salted and hashed.
type smtpState struct {
	mu      sync.Mutex
	salt    []byte
	pending *testedSMTP
	timeout time.Duration // 0 for smtpTimeout; tests shorten it
}

type testedSMTP struct {
	key string
	at  string // when the test e-mail went out, RFC 3339
}

func (st *smtpState) key(c SMTP, password string) string {
	st.mu.Lock()
	if st.salt == nil {
		st.salt = make([]byte, 32)
		_, _ = rand.Read(st.salt) // crypto/rand does not fail
	}
	salt := st.salt
	st.mu.Unlock()
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(strings.Join([]string{c.Host, strconv.Itoa(c.Port), string(c.Security), c.User, c.From, password}, "\x00")))
	return hex.EncodeToString(h.Sum(nil))
}

func (st *smtpState) remember(c SMTP, password string, at time.Time) {
	k := st.key(c, password)
	st.mu.Lock()
	st.pending = &testedSMTP{key: k, at: at.UTC().Format(time.RFC3339)}
	st.mu.Unlock()
}

func (st *smtpState) forget() {
	st.mu.Lock()
	st.pending = nil
	st.mu.Unlock()
}

// take returns the remembered test and forgets it.
func (st *smtpState) take() (testedSMTP, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	t := st.pending
	st.pending = nil
	if t == nil {
		return testedSMTP{}, false
	}
	return *t, true
}

func (st *smtpState) wait() time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.timeout > 0 {
		return st.timeout
	}
	return smtpTimeout
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

	timeout := s.smtp.wait()
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		tlsCfg = s.TLSConfig.Clone()
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = c.Host
	}
	// Plinth dials itself, so that cancelling ctx closes the connection at
	// once, whatever the exchange waits for.
	var mu sync.Mutex
	var conns []net.Conn
	closeAll := func() {
		mu.Lock()
		for _, conn := range conns {
			_ = conn.Close()
		}
		conns = nil
		mu.Unlock()
	}
	stop := context.AfterFunc(ctx, closeAll)
	defer func() { stop(); closeAll() }()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, conn)
		mu.Unlock()
		if err := ctx.Err(); err != nil {
			_ = conn.Close()
			return nil, err
		}
		if c.Security != SecurityTLS {
			return conn, nil
		}
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return tc, nil
	}
	opts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(timeout), gomail.WithDialContextFunc(dial), gomail.WithTLSConfig(tlsCfg)}
	switch c.Security {
	case SecurityNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case SecurityStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case SecurityTLS:
		// dial made the TLS connection; "opportunistic" has go-mail look
		// at it and see it encrypted, so that it offers the password.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if c.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(c.User), gomail.WithPassword(password))
	}
	client, err := gomail.NewClient(c.Host, opts...)
	if err != nil {
		return fmt.Errorf("set up the SMTP client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, m); err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return fmt.Errorf("sending the e-mail was cancelled: %w", ctx.Err())
		}
		return explain(err, c, to, timeout)
	}
	return nil
}
