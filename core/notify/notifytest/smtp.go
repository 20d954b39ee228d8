// Package notifytest runs a real SMTP server (emersion/go-smtp) on
// 127.0.0.1 for tests of Plinth's e-mail notifications, in plain, STARTTLS
// and TLS modes with a self-signed certificate, and decodes what it
// received the way a mail program would.
package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is how the server protects connections: "none", "starttls", "tls".
type Mode string

// Received is one message the server got.
type Received struct {
	From string
	To   []string
	Data string
	User string // who authenticated
}

// Server is a real SMTP server on 127.0.0.1.
type Server struct {
	Addr  string
	Port  int
	mu    sync.Mutex
	got   []Received
	srv   *smtp.Server
	ln    net.Listener
	users map[string]string
	// refused are the recipients the server answers "no such mailbox".
	refused map[string]bool
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	msg  Received
	user string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if ss.s.users[user] != pass || pass == "" {
			// What mail servers answer to a wrong password (RFC 4954).
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		ss.user = user
		return nil
	}), nil
}
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if len(ss.s.users) > 0 && ss.user == "" {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	ss.msg.From = from
	return nil
}
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	refused := ss.s.refused[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if refused {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
	}
	ss.msg.To = append(ss.msg.To, to)
	return nil
}
func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.msg.Data, ss.msg.User = string(b), ss.user
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, ss.msg)
	ss.s.mu.Unlock()
	return nil
}
func (ss *session) Reset()        { ss.msg = Received{} }
func (ss *session) Logout() error { return nil }

// SelfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func SelfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "plinth test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// Start serves on addr ("" for any free port) in the given mode. users,
// when not empty, are the logins it requires (user → password).
func Start(t *testing.T, addr string, mode Mode, cert tls.Certificate, users map[string]string) *Server {
	t.Helper()
	s := &Server{users: users}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = mode == "none"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	switch mode {
	case "tls":
		ln, err = tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}})
	default:
		ln, err = net.Listen("tcp", addr)
		if mode == "starttls" {
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s.srv, s.ln, s.Addr = srv, ln, ln.Addr().String()
	s.Port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the server down (a test of a server that is down).
func (s *Server) Stop() { _ = s.srv.Close() }

// RefuseRecipients makes the server refuse these addresses as recipients,
// as a server answers for a mailbox it does not know.
func (s *Server) RefuseRecipients(addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]bool{}
	}
	for _, a := range addrs {
		s.refused[strings.ToLower(a)] = true
	}
}

// Messages returns what the server received so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

// Parsed is a received message decoded the way a mail program would.
type Parsed struct {
	Subject, To, Plain, HTML string
}

// Parse decodes a received message: headers, and the plain and HTML parts.
func Parse(t *testing.T, data string) (p Parsed) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("not a mail message: %v", err)
	}
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	p = Parsed{Subject: subject, To: m.Header.Get("To")}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	defer func() {
		p.Plain = strings.ReplaceAll(p.Plain, "\r\n", "\n")
		p.HTML = strings.ReplaceAll(p.HTML, "\r\n", "\n")
	}()
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		var r io.Reader = part
		if part.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			r = quotedprintable.NewReader(part)
		}
		b, _ := io.ReadAll(r)
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/html") {
			p.HTML = string(b)
		} else {
			p.Plain = string(b)
		}
	}
	return p
}
