package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"codeberg.org/plinth/plinth/storage/fsys"
)

// Keys: a backup target holds, for each passphrase ever set, an age X25519
// identity encrypted with that passphrase (scrypt), keys/<recipient>.age.
// Backups are encrypted to the recipient (public, kept in the settings),
// so taking one never needs the passphrase; reading one does.

const keysDir = "keys"

// keyWorkFactor is the scrypt work factor (log2 N) of new keys.
const keyWorkFactor = 16

// NewKey makes a key for a passphrase in a target and returns its
// recipient, to be kept in the settings.
func NewKey(fs fsys.FS, target, passphrase string) (string, error) {
	fs = fsys.Or(fs)
	if len([]rune(passphrase)) < 10 {
		return "", errors.New("the backup passphrase must have at least 10 characters")
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", err
	}
	rec, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return "", err
	}
	// 2^16: 64 MiB and about a fifth of a second to open, where age's
	// default (2^18) takes 256 MiB, more than a restore needs for all
	// else. Keys made before keep their own factor (age reads it).
	rec.SetWorkFactor(keyWorkFactor)
	var sb strings.Builder
	w, err := age.Encrypt(&sb, rec)
	if err != nil {
		return "", err
	}
	_, _ = io.WriteString(w, id.String())
	if err := w.Close(); err != nil {
		return "", err
	}
	dir := filepath.Join(target, keysDir)
	if err := fs.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("backup target: %w", err)
	}
	r := id.Recipient().String()
	if err := fsys.WriteFile(fs, filepath.Join(dir, r+".age"), []byte(sb.String()), fsys.Options{}); err != nil {
		return "", fmt.Errorf("write the backup key: %w", err)
	}
	return r, nil
}

// openKey unlocks the key of recipient with the passphrase.
func openKey(fs fsys.FS, target, recipient, passphrase string) (age.Identity, error) {
	raw, err := fsys.ReadFileLimit(fs, filepath.Join(target, keysDir, recipient+".age"), 64<<10)
	if err != nil {
		return nil, fmt.Errorf("the key of this encrypted backup is missing from %s: %w", target, ErrDamaged)
	}
	return unlockKey(raw, passphrase)
}

// unlockKey decrypts an encrypted key with the passphrase.
func unlockKey(raw []byte, passphrase string) (age.Identity, error) {
	sid, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(strings.NewReader(string(raw)), sid)
	if err != nil {
		return nil, ErrPassphrase
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, ErrPassphrase
	}
	return age.ParseX25519Identity(strings.TrimSpace(string(b)))
}

// sealer writes payload files: compressed, maybe encrypted, with their
// size and SHA-256 counted as stored, into where the backup goes.
type sealer struct {
	fs        fsys.FS
	recipient age.Recipient // nil: not encrypted
	dest      dest
	encoders  sync.Pool // of *zstd.Encoder, reset for each file
}

func newSealer(fs fsys.FS, recipient string, d dest) (*sealer, error) {
	if recipient == "" {
		return &sealer{fs: fsys.Or(fs), dest: d}, nil
	}
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return nil, fmt.Errorf("the backup encryption key is damaged: %w", err)
	}
	return &sealer{fs: fsys.Or(fs), recipient: r, dest: d}, nil
}

// sealed is one payload file being written.
type sealed struct {
	s   *sealer
	f   sink
	cnt *countHash
	enc io.WriteCloser // age, or nil
	zw  *zstd.Encoder
	rel string
}

// create starts the stored file rel of the backup.
func (s *sealer) create(rel string) (*sealed, error) {
	f, err := s.dest.create(rel)
	if err != nil {
		return nil, err
	}
	out := &sealed{f: f, cnt: &countHash{w: f, h: sha256.New()}, rel: rel}
	var inner io.Writer = out.cnt
	if s.recipient != nil {
		out.enc, err = age.Encrypt(out.cnt, s.recipient)
		if err != nil {
			f.abort()
			return nil, err
		}
		inner = out.enc
	}
	if zw, ok := s.encoders.Get().(*zstd.Encoder); ok {
		zw.Reset(inner)
		out.zw = zw
	} else {
		// A small window keeps memory low; on Plinth's data (packs of
		// already chunked files) a larger one gains little. Not
		// WithLowerEncoderMem: its history holds one window and one
		// block, so the window was copied down after every 128 KiB block
		// (8 bytes moved per byte compressed, 15% of a full backup's CPU
		// time); the default holds two windows, 1 MiB more per encoder.
		out.zw, err = zstd.NewWriter(inner, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2),
			zstd.WithWindowSize(1<<20))
		if err != nil {
			f.abort()
			return nil, err
		}
	}
	out.s = s
	return out, nil
}

func (s *sealed) Write(p []byte) (int, error) { return s.zw.Write(p) }

// ReadFrom lets io.Copy hand whole blocks to the encoder.
func (s *sealed) ReadFrom(r io.Reader) (int64, error) { return s.zw.ReadFrom(r) }

// finish flushes and makes the file durable, returning the stored size
// and hash.
func (s *sealed) finish() (int64, string, error) {
	err := s.zw.Close()
	if err == nil {
		s.s.encoders.Put(s.zw) // closed cleanly: ready for Reset
		s.zw = nil
	}
	if err == nil && s.enc != nil {
		err = s.enc.Close()
	}
	if err != nil {
		s.f.abort()
		return 0, "", fmt.Errorf("write %s: %w", path.Base(s.rel), err)
	}
	if err := s.f.finish(); err != nil {
		return 0, "", err
	}
	return s.cnt.n, hex.EncodeToString(s.cnt.h.Sum(nil)), nil
}

// abort stops without caring; the backup's leftovers go with it.
func (s *sealed) abort() {
	if s.zw != nil {
		_ = s.zw.Close()
	}
	s.f.abort()
}

type countHash struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countHash) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// opener reads payload files back, checking size and SHA-256 as it goes.
type opener struct {
	fs       fsys.FS
	identity age.Identity // nil when the backup is not encrypted
}

// maxWindow is the largest zstd window a stored file may ask for. Plinth
// writes them with a 1 MiB window (sealer.create), and the decoder keeps
// a window of output in memory, so a file asking for gigabytes (which
// zstd allows) is damaged or crafted. (A frame written whole, with its
// size, uses its size as the window: WithDecoderMaxMemory bounds that.)
const maxWindow = 8 << 20

// open returns the plain content of a stored file of backup b; the
// reader fails at the end if the stored bytes do not match what the
// manifest says.
func (o *opener) open(ctx context.Context, b Manifest, rel string, size int64, sum, what string) (io.ReadCloser, error) {
	f, err := openStored(ctx, fsys.Or(o.fs), b, rel)
	if err != nil {
		if errors.Is(err, ErrDamaged) || isOffline(err) || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s is missing: %w", what, ErrDamaged)
	}
	check := &checkReader{r: f, h: sha256.New(), size: size, sum: sum, what: what}
	var in io.Reader = check
	if o.identity != nil {
		in, err = age.Decrypt(check, o.identity)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s cannot be decrypted: %w", what, ErrDamaged)
		}
	}
	zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderMaxMemory(maxWindow))
	if err != nil {
		f.Close()
		return nil, err
	}
	return &plainReader{zr: zr, f: f, what: what}, nil
}

type checkReader struct {
	r         io.Reader
	h         hash.Hash
	n, size   int64
	sum, what string
}

func (c *checkReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if errors.Is(err, io.EOF) && (c.n != c.size || hex.EncodeToString(c.h.Sum(nil)) != c.sum) {
		return n, fmt.Errorf("%s does not match its checksum: %w", c.what, ErrDamaged)
	}
	return n, err
}

type plainReader struct {
	zr   *zstd.Decoder
	f    io.Closer
	what string
}

func (p *plainReader) Read(b []byte) (int, error) {
	n, err := p.zr.Read(b)
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return n, refusal(ErrDamaged, "%s is damaged: it asks for a decompression window larger than the %d MiB Plinth allows", p.what, maxWindow>>20)
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, ErrDamaged) && !isOffline(err) && !errors.Is(err, context.Canceled) {
		// zstd's own CRC caught it before the file's SHA-256 could.
		err = fmt.Errorf("%s does not match its checksum: %w", p.what, ErrDamaged)
	}
	return n, err
}

func (p *plainReader) Close() error {
	p.zr.Close()
	return p.f.Close()
}

// checkFile hashes a stored file without decoding it.
func checkFile(ctx context.Context, fs fsys.FS, path string, size int64, sum, what string) error {
	f, err := fs.Open(path)
	if err != nil {
		return fmt.Errorf("%s is missing: %w", what, ErrDamaged)
	}
	defer f.Close()
	return checkSum(ctx, f, size, sum, what)
}

// checkSum reads r to its end and compares its size and SHA-256.
func checkSum(ctx context.Context, r io.Reader, size int64, sum, what string) error {
	h := sha256.New()
	n, err := io.Copy(h, &ctxReader{ctx: ctx, r: r})
	if err != nil {
		return err
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("%s does not match its checksum: %w", what, ErrDamaged)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
