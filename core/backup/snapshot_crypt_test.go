package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

const passphrase = "correct horse battery"

// setPassphrase does what SetPassphrase does, with a key whose scrypt
// costs little, so that tests that open it often stay fast (the work
// factor is read from the key file when it is opened).
func setPassphrase(t *testing.T, e *env, pass string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := age.NewScryptRecipient(pass)
	if err != nil {
		t.Fatal(err)
	}
	rec.SetWorkFactor(10)
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, rec)
	_, _ = w.Write([]byte(id.String()))
	_ = w.Close()
	c, err := e.b.Level2()
	if err != nil {
		t.Fatal(err)
	}
	c.Recipient = id.Recipient().String()
	if err := os.MkdirAll(filepath.Join(c.Target, keysDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath(c.Target, c.Recipient), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.b.SetLevel2(context.Background(), e.master, c); err != nil {
		t.Fatal(err)
	}
}

// readable reports whether b, or what zstd makes of it, holds needle: what
// someone with the file and `zstd -d` would see.
func readable(b, needle []byte) bool {
	if bytes.Contains(b, needle) {
		return true
	}
	d, _ := zstd.NewReader(nil)
	defer d.Close()
	out, err := d.DecodeAll(b, nil)
	return err == nil && bytes.Contains(out, needle)
}

// With a backup passphrase set, snapshots and snapshot files are
// encrypted: no chunk, tree or archive member shows the content or the
// file names; restoring and importing need the passphrase, and give the
// exact bytes with it.
func TestEncryptedSnapshots(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	setPassphrase(t, e, passphrase)
	tower := e.project("Tower")
	secret := bytes.Repeat([]byte("TOP SECRET TENDER PRICE 4.2M "), 2000)
	e.put("/Tower/secret-tender.txt", secret)
	e.put("/Tower/model.bin", random(5<<20))
	m := e.snap(tower.ID)
	if !m.Encrypted() || m.Tree.File != treeSealed {
		t.Fatalf("snapshot with a passphrase set: recipient %q, tree %s", m.Recipient, m.Tree.File)
	}
	target := e.b.snapshotTarget()
	for _, needle := range [][]byte{[]byte("TOP SECRET"), []byte("secret-tender.txt")} {
		_ = filepath.WalkDir(target, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if b, _ := os.ReadFile(p); readable(b, needle) {
				t.Errorf("%s shows %q", p, needle)
			}
			return nil
		})
	}
	if _, err := os.Stat(keyPath(target, m.Recipient)); err != nil {
		t.Fatal("the snapshot target lacks the key")
	}
	archive := filepath.Join(t.TempDir(), "tower.plinth-snapshot")
	if err := e.b.ExportSnapshot(ctx, e.master, m.ID, archive, false); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(archive)
	if bytes.Contains(raw, []byte("TOP SECRET")) || bytes.Contains(raw, []byte("secret-tender.txt")) {
		t.Fatal("the archive shows the secret")
	}
	for _, mb := range readMembers(t, archive) {
		if readable(mb.data, []byte("TOP SECRET")) || readable(mb.data, []byte("secret-tender.txt")) {
			t.Fatalf("archive member %s shows the secret", mb.name)
		}
	}

	// Restore: without the passphrase one sentence, with a wrong one
	// another, with the right one the exact bytes.
	before := e.state()
	_, err := e.b.RestoreSnapshot(ctx, e.master, m.ID, "Copy", "", nil)
	if !errors.Is(err, ErrNeedPassphase) {
		t.Fatalf("no passphrase: %v", err)
	}
	oneSentence(t, err)
	if _, err := e.b.RestoreSnapshot(ctx, e.master, m.ID, "Copy", "wrong passphrase", nil); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if e.state() != before {
		t.Fatal("a refused restore changed something")
	}
	// The snapshot target's own copy of the key is enough.
	l2, _ := e.b.Level2()
	_ = os.RemoveAll(filepath.Join(l2.Target, keysDir))
	if _, err := e.b.RestoreSnapshot(ctx, e.master, m.ID, "Copy", passphrase, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read("/Copy/secret-tender.txt"), secret) {
		t.Fatal("restored bytes differ")
	}
	// Verify: checksums and sizes without the passphrase, every chunk
	// decrypted and hashed with it.
	v, err := e.b.Verify(ctx, e.master, m.ID, "", nil)
	if err != nil || !v.Checksum || v.Restored || v.Note == "" {
		t.Fatalf("verify without the passphrase: %+v %v", v, err)
	}
	v, err = e.b.Verify(ctx, e.master, m.ID, passphrase, nil)
	if err != nil || !v.Restored || v.Chunks != 3 {
		t.Fatalf("verify with the passphrase: %+v %v", v, err)
	}

	// Import elsewhere, where no passphrase is set.
	other := newEnv(t)
	if _, err := other.b.ImportSnapshot(ctx, other.master, archive, "", "", nil); !errors.Is(err, ErrNeedPassphase) {
		t.Fatalf("import without the passphrase: %v", err)
	}
	if _, err := other.b.ImportSnapshot(ctx, other.master, archive, "", "wrong passphrase", nil); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("import with a wrong passphrase: %v", err)
	}
	if d := debris(t, other.dir); len(d) != 0 {
		t.Fatalf("left behind: %v", d)
	}
	if _, err := other.b.ImportSnapshot(ctx, other.master, archive, "", passphrase, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(other.read("/Tower/secret-tender.txt"), secret) || !bytes.Equal(other.read("/Tower/model.bin"), e.read("/Tower/model.bin")) {
		t.Fatal("imported bytes differ")
	}

	// A damaged encrypted chunk: its size gives it away without the
	// passphrase, its content with it.
	ids, _ := e.b.chunksOf(m)
	var one string
	for id := range ids {
		one = id
	}
	p := flipChunkByte(t, target, one, m.Recipient, -20)
	if _, err := e.b.Verify(ctx, e.master, m.ID, passphrase, nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("verify of a flipped encrypted chunk: %v", err)
	}
	// A pack cut short: its index is gone with its end, and that is told.
	b, _ := os.ReadFile(p)
	_ = os.WriteFile(p, b[:len(b)-1], 0o600)
	if _, err := e.b.Verify(ctx, e.master, m.ID, "", nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("verify of a short encrypted chunk without the passphrase: %v", err)
	}
}

// A chunk stored plain before the passphrase was set is not used by an
// encrypted snapshot: that one stores its own, encrypted, and so does the
// next passphrase.
func TestEncryptedSnapshotDoesNotReusePlainChunks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tower := e.project("Tower")
	e.put("/Tower/a.txt", bytes.Repeat([]byte("plain text "), 1000))
	p := e.snap(tower.ID)
	ids, _ := e.b.chunksOf(p)
	target := e.b.snapshotTarget()
	setPassphrase(t, e, passphrase)
	enc := e.snap(tower.ID)
	setPassphrase(t, e, "another long passphrase")
	enc2 := e.snap(tower.ID)
	if enc.Recipient == enc2.Recipient {
		t.Fatal("a new passphrase kept the key")
	}
	for id := range ids {
		for _, r := range []string{"", enc.Recipient, enc2.Recipient} {
			b := readChunkStored(t, target, id, r)
			if r != "" && readable(b, []byte("plain text")) {
				t.Fatal("an encrypted snapshot uses a readable chunk")
			}
		}
	}
	for _, m := range []Manifest{p, enc} {
		if err := e.b.Check(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.b.Verify(ctx, e.master, enc2.ID, "another long passphrase", nil); err != nil {
		t.Fatal(err)
	}
	// Prune keeps each one's chunks.
	if _, err := e.b.Prune(ctx, e.master, false); err != nil {
		t.Fatal(err)
	}
	if n := len(chunkFiles(t, target)); n != 3 {
		t.Fatalf("%d chunk files after prune, want 3", n)
	}
	if !strings.HasSuffix(chunkName("ab", enc.Recipient), ".age") {
		t.Fatal("encrypted chunk name")
	}
}
