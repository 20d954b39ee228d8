package app

// The control endpoint. Badger lets one process hold a store, so one
// Plinth holds a data folder: the window (also while it sits in the tray)
// or plinth serve. It listens on a Unix domain socket in the folder,
// reachable only by the folder's owner; a command started while it runs
// is sent there with its arguments and runs inside it, as the -user it
// logs in with, with the caller's password sources. Its output, prompts
// and exit code travel back, so a script cannot tell the difference.
//
// The wire format is frames: a kind byte, a big-endian uint32 length and
// that many bytes. The caller sends a request (JSON), then answers the
// holder's prompts and reads of standard input, and may send a cancel
// (Ctrl+C); the holder sends hello at once, then standard output and
// error as they come, and last the exit code. A dropped connection
// cancels the command like Ctrl+C.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// socketName is the control endpoint beside the stores.
	socketName = "plinth.sock"
	// controlProtocol is the request's protocol; a holder refuses others.
	controlProtocol = 1
	// maxSocketPath keeps the socket's path within sun_path on every OS
	// (104 bytes on macOS, 108 on Linux and Windows).
	maxSocketPath = 100
	// maxFrame bounds one frame: output comes in pieces, requests are small.
	maxFrame = 1 << 20
	// helloWait is how long a connected endpoint has to say hello before
	// it counts as not answering (a hung process still accepts).
	helloWait = 5 * time.Second
)

// Frame kinds.
const (
	// caller → holder
	frameRequest  = 'R' // the request, JSON
	frameAnswer   = 'A' // a prompt's answer
	frameNoAnswer = 'N' // the prompt failed; the payload says why
	frameInput    = 'I' // standard input; empty: its end
	frameCancel   = 'C' // Ctrl+C
	// holder → caller
	frameHello  = 'h' // the holder has taken the connection
	frameOut    = 'o' // standard output
	frameErr    = 'e' // standard error
	framePrompt = 'p' // ask for a secret on the caller's terminal
	frameRead   = 'r' // read up to n (uint32) bytes of standard input
	frameExit   = 'x' // the exit code (uint32); the last frame
)

// holderPatience is how long a command waits for a holder that is still
// starting (or was just started) to answer. Tests of a holder that never
// answers shorten it.
var holderPatience = 10 * time.Second

// errHeld means another process holds the data folder: the command is
// to be sent to it.
var errHeld = errors.New("another Plinth holds the data folder")

// forwardedEnv are the variables a command reads; a forwarded command
// reads the caller's, not the holder's.
var forwardedEnv = []string{"PLINTH_PASSWORD", "PLINTH_NEW_PASSWORD", "PLINTH_BACKUP_PASSPHRASE",
	"PLINTH_NEW_BACKUP_PASSPHRASE", "PLINTH_SMTP_PASSWORD", "PLINTH_S3_SECRET"}

// request is what a caller asks of the holder.
type request struct {
	Protocol int `json:"protocol"`
	// Args is the command and its arguments; none asks the holder to
	// show its window (plinth started a second time).
	Args          []string          `json:"args,omitempty"`
	User          string            `json:"user"`
	PasswordStdin bool              `json:"passwordStdin,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Cwd           string            `json:"cwd,omitempty"`
	Prompt        bool              `json:"prompt,omitempty"`      // the caller can ask on a terminal
	ErrTerminal   bool              `json:"errTerminal,omitempty"` // its stderr is a terminal
	Version       string            `json:"version,omitempty"`
	// Ping asks only whether a holder answers (a start at login finds
	// Plinth running already).
	Ping bool `json:"ping,omitempty"`
}

// socketPath is where the control endpoint of the data folder dir
// listens: plinth.sock in it, or, when that path is too long for a
// socket, a name derived from the folder in a private folder of the
// user's temporary folder.
func socketPath(dir string) string {
	if p := filepath.Join(dir, socketName); len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), fmt.Sprintf("plinth-%d", os.Getuid()), hex.EncodeToString(sum[:8])+".sock")
}

func writeFrame(w io.Writer, kind byte, payload []byte) error {
	var head [5]byte
	head[0] = kind
	binary.BigEndian.PutUint32(head[1:], uint32(len(payload)))
	if _, err := w.Write(head[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("control frame of %d bytes is over the limit", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return head[0], p, nil
}

func uint32Bytes(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

// ---- the caller's side ----

// dialHolder connects to the endpoint of dir and waits for its hello.
// With patience it keeps trying that long while nothing listens yet.
func dialHolder(dir string, patience time.Duration) (net.Conn, *bufio.Reader, error) {
	deadline := time.Now().Add(patience)
	for {
		conn, err := net.DialTimeout("unix", socketPath(dir), time.Second)
		if err == nil {
			br := bufio.NewReader(conn)
			_ = conn.SetReadDeadline(time.Now().Add(helloWait))
			kind, _, err := readFrame(br)
			if err == nil && kind == frameHello {
				_ = conn.SetReadDeadline(time.Time{})
				return conn, br, nil
			}
			_ = conn.Close()
			return nil, nil, fmt.Errorf("the control endpoint did not answer")
		}
		if time.Now().After(deadline) {
			return nil, nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// forward sends a command to the Plinth holding g's data folder and
// relays its output, prompts and exit code. ok is false when nothing
// answers there (nobody holds the folder, or its holder is hung).
func forward(ctx context.Context, g Global, req request, stdio IO, patience time.Duration) (code int, ok bool) {
	dir, err := filepath.Abs(g.DataDir)
	if err != nil {
		return 0, false
	}
	conn, br, err := dialHolder(dir, patience)
	if err != nil {
		return 0, false
	}
	defer conn.Close()
	req.Protocol, req.User, req.PasswordStdin, req.Version = controlProtocol, g.User, g.PasswordStdin, Version
	req.Prompt, req.ErrTerminal = stdio.Prompt != nil, stdio.ErrTerminal
	req.Cwd, _ = os.Getwd()
	req.Env = map[string]string{}
	for _, k := range forwardedEnv {
		if v := stdio.Getenv(k); v != "" {
			req.Env[k] = v
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, false
	}
	var wmu sync.Mutex
	send := func(kind byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(conn, kind, p)
	}
	if err := send(frameRequest, body); err != nil {
		return 0, false
	}
	// Ctrl+C here is Ctrl+C there: the holder stops the work at a safe
	// point and answers with the exit code.
	stop := context.AfterFunc(ctx, func() { _ = send(frameCancel, nil) })
	defer stop()
	for {
		kind, p, err := readFrame(br)
		if err != nil {
			fmt.Fprintln(stdio.Err, "The running Plinth ended the connection before the command finished; see its log (logs/plinth.log in the data folder).")
			if ctx.Err() != nil {
				return ExitInterrupted, true
			}
			return ExitFailure, true
		}
		switch kind {
		case frameOut:
			_, _ = stdio.Out.Write(p)
		case frameErr:
			_, _ = stdio.Err.Write(p)
		case framePrompt:
			if stdio.Prompt == nil {
				_ = send(frameNoAnswer, []byte("no terminal to ask on"))
				continue
			}
			answer, err := stdio.Prompt(string(p))
			if err != nil {
				_ = send(frameNoAnswer, []byte(err.Error()))
				continue
			}
			_ = send(frameAnswer, []byte(answer))
		case frameRead:
			n := 4096
			if len(p) == 4 {
				n = max(1, min(int(binary.BigEndian.Uint32(p)), 64<<10))
			}
			buf := make([]byte, n)
			m, _ := stdio.In.Read(buf)
			_ = send(frameInput, buf[:m])
		case frameExit:
			if len(p) != 4 {
				return ExitFailure, true
			}
			return int(binary.BigEndian.Uint32(p)), true
		}
	}
}

// notAnswering is the sentence for a folder held by a process that does
// not answer on the control endpoint.
func notAnswering(dir string) error {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &heldError{fmt.Sprintf("Plinth is already running with data folder %s, and it did not answer on its control endpoint (%s): it may be a command that is still running, a window that is still starting or is hung, or an older Plinth; try again when it has finished, or close it (its process id is in %s)",
		dir, socketPath(dir), filepath.Join(dir, lockName))}
}

// ---- the holder's side ----

// Holder is what the process holding the data folder does for commands
// that are not about the data.
type Holder struct {
	// Kind names the holder in sentences: "the window", "the Plinth service".
	Kind string
	// Show brings the window forward (plinth started a second time); it
	// returns why it cannot (a service has no window).
	Show func() error
	// Quit closes the holder cleanly; it runs after the quit command has
	// answered.
	Quit func()
	// Busy lists the work running outside commands and scheduled jobs
	// (the window's own work), for plinth quit; nil is none.
	Busy func() []string
}

// controlServer is the holder's control endpoint.
type controlServer struct {
	a    *App
	h    Holder
	ln   net.Listener
	path string

	ctx    context.Context // cancelled at shutdown: every command stops
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[*session]string // commands running, by session
}

// session is one caller's connection.
type session struct {
	srv  *controlServer
	conn net.Conn
	wmu  sync.Mutex

	answers chan answer
	input   chan []byte
	gone    chan struct{} // closed when the caller's side is read to its end
	// after runs once the exit code is sent (plinth quit closes then).
	after func()
}

type answer struct {
	text string
	err  error
}

// ServeControl opens the data folder's control endpoint: from now on,
// commands started while this process holds the folder run in it. Close
// shuts it first, stopping the commands that still run.
func (a *App) ServeControl(h Holder) error {
	path := socketPath(a.DataDir)
	if filepath.Dir(path) != a.DataDir {
		if err := privateDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("control endpoint: %w", err)
		}
	}
	// Whatever is there is left from a Plinth that died: this process
	// holds the folder's lock.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("control endpoint %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control endpoint %s: %w", path, err)
	}
	if err := restrictSocket(path); err != nil {
		_ = ln.Close()
		return fmt.Errorf("control endpoint %s: %w", path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &controlServer{a: a, h: h, ln: ln, path: path, ctx: ctx, cancel: cancel, running: map[*session]string{}}
	a.control = s
	s.wg.Go(s.accept)
	a.Log.Info("control endpoint open", "path", path, "holder", h.Kind)
	return nil
}

func (s *controlServer) accept() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.a.Log.Warn("control endpoint accept", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err := samePeer(conn); err != nil {
			s.a.Log.Warn("control endpoint refused a connection", "err", err)
			_ = conn.Close()
			continue
		}
		s.wg.Go(func() { s.handle(conn) })
	}
}

// close stops accepting, cancels the commands running and waits for them.
func (s *controlServer) close() {
	s.cancel()
	_ = s.ln.Close()
	s.mu.Lock()
	for sess := range s.running {
		_ = sess.conn.SetReadDeadline(time.Now()) // a pending prompt gives up
	}
	s.mu.Unlock()
	s.wg.Wait()
	_ = os.Remove(s.path)
}

func (s *controlServer) handle(conn net.Conn) {
	defer conn.Close()
	sess := &session{srv: s, conn: conn, answers: make(chan answer, 1), input: make(chan []byte, 1), gone: make(chan struct{})}
	br := bufio.NewReader(conn)
	if err := sess.send(frameHello, nil); err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	kind, body, err := readFrame(br)
	_ = conn.SetReadDeadline(time.Time{})
	var req request
	if err == nil && kind == frameRequest {
		err = json.Unmarshal(body, &req)
	} else if err == nil {
		err = fmt.Errorf("the first frame is not a request")
	}
	if err != nil {
		s.a.Log.Warn("control endpoint: bad request", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go sess.read(br, cancel)
	code := s.run(ctx, sess, req)
	_ = sess.send(frameExit, uint32Bytes(code))
	if sess.after != nil {
		_ = conn.Close()
		sess.after()
	}
}

// read takes the caller's frames until the connection ends; Ctrl+C or a
// dropped connection cancels the command.
func (sess *session) read(br *bufio.Reader, cancel context.CancelFunc) {
	defer close(sess.gone)
	defer cancel()
	for {
		kind, p, err := readFrame(br)
		if err != nil {
			return
		}
		switch kind {
		case frameCancel:
			cancel()
		case frameAnswer:
			sess.answers <- answer{text: string(p)}
		case frameNoAnswer:
			sess.answers <- answer{err: errors.New(string(p))}
		case frameInput:
			sess.input <- p
		}
	}
}

func (sess *session) send(kind byte, p []byte) error {
	sess.wmu.Lock()
	defer sess.wmu.Unlock()
	_ = sess.conn.SetWriteDeadline(time.Now().Add(time.Minute))
	return writeFrame(sess.conn, kind, p)
}

// writer is the caller's standard output or error.
func (sess *session) writer(kind byte) io.Writer { return sessionWriter{sess, kind} }

type sessionWriter struct {
	sess *session
	kind byte
}

func (w sessionWriter) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		n := min(len(rest), maxFrame)
		if err := w.sess.send(w.kind, rest[:n]); err != nil {
			return len(p) - len(rest), err
		}
		rest = rest[n:]
	}
	return len(p), nil
}

// prompt asks on the caller's terminal.
func (sess *session) prompt(ctx context.Context) func(string) (string, error) {
	return func(q string) (string, error) {
		if err := sess.send(framePrompt, []byte(q)); err != nil {
			return "", err
		}
		select {
		case a := <-sess.answers:
			return a.text, a.err
		case <-ctx.Done():
			return "", ctx.Err()
		case <-sess.gone:
			return "", errors.New("the caller went away")
		}
	}
}

// stdin is the caller's standard input, read as the command reads it.
type sessionInput struct {
	ctx  context.Context
	sess *session
	eof  bool
}

func (r *sessionInput) Read(p []byte) (int, error) {
	if r.eof {
		return 0, io.EOF
	}
	if err := r.sess.send(frameRead, uint32Bytes(len(p))); err != nil {
		return 0, err
	}
	select {
	case b := <-r.sess.input:
		if len(b) == 0 {
			r.eof = true
			return 0, io.EOF
		}
		return copy(p, b), nil
	case <-r.ctx.Done():
		return 0, r.ctx.Err()
	case <-r.sess.gone:
		return 0, io.ErrUnexpectedEOF
	}
}

// run runs one request inside this process and returns its exit code.
func (s *controlServer) run(ctx context.Context, sess *session, req request) int {
	stderr := sess.writer(frameErr)
	if req.Protocol != controlProtocol {
		fmt.Fprintf(stderr, "The running Plinth (%s) and this one (%s) do not understand each other; use the same Plinth for both.\n", Version, req.Version)
		return ExitFailure
	}
	if len(req.Args) == 0 && req.Ping {
		return ExitOK
	}
	if len(req.Args) == 0 {
		if s.h.Show == nil {
			fmt.Fprintln(stderr, "Plinth is already running with this data folder.")
			return ExitFailure
		}
		if err := s.h.Show(); err != nil {
			fmt.Fprintln(stderr, sentence(err))
			return ExitFailure
		}
		return ExitOK
	}
	cmd, rest := findCommand(req.Args)
	if cmd == nil || cmd.local() {
		fmt.Fprintln(stderr, sentence(fmt.Errorf("unknown command %q; 'plinth help' lists the commands", strings.Join(req.Args, " "))))
		return ExitUsage
	}
	stdio := IO{In: &sessionInput{ctx: ctx, sess: sess}, Out: sess.writer(frameOut), Err: stderr,
		Getenv: func(k string) string { return req.Env[k] }, ErrTerminal: req.ErrTerminal}
	if req.Prompt {
		stdio.Prompt = sess.prompt(ctx)
	}
	user := req.User
	if user == "" {
		user = "masteradmin"
	}
	c := newCLI(Global{DataDir: s.a.DataDir, User: user, PasswordStdin: req.PasswordStdin}, stdio)
	c.host, c.session, c.cwd = s.a, sess, req.Cwd
	s.mu.Lock()
	s.running[sess] = cmd.name
	s.mu.Unlock()
	start := time.Now()
	code, _ := c.run(ctx, cmd, rest)
	s.mu.Lock()
	delete(s.running, sess)
	s.mu.Unlock()
	s.a.Log.Info("command from the control endpoint", "command", cmd.name, "user", user, "exit", code, "took", time.Since(start).Round(time.Millisecond))
	return code
}

// busy lists what runs in the holder besides the session asking: other
// commands, scheduled jobs and the window's own work.
func (s *controlServer) busy(except *session) []string {
	var out []string
	s.mu.Lock()
	for sess, name := range s.running {
		if sess != except {
			out = append(out, "'plinth "+name+"'")
		}
	}
	s.mu.Unlock()
	if s.a.Scheduler != nil {
		for _, j := range s.a.Scheduler.Jobs() {
			if j.Running {
				out = append(out, lowerFirst(j.Title))
			}
		}
	}
	if s.h.Busy != nil {
		out = append(out, s.h.Busy()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
