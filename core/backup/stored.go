package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"codeberg.org/plinth/plinth/core/backup/target"
	"codeberg.org/plinth/plinth/core/names"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// Source is a named target a backup is read from: its copy off site, or
// the only copy left after the machine was lost. Its files are read
// straight from there, streamed (a bucket with range requests that pick
// up where a dropped connection stopped), never downloaded whole first.
type Source struct {
	Name string
	T    target.Target
}

// TargetBackups lists the full backups in a named target, newest first,
// and the ones there whose manifest is damaged. On any failure it lists
// none: a half listing would pass for the truth.
func (s *Service) TargetBackups(ctx context.Context, name string) ([]Manifest, []Damaged, error) {
	_, t, err := s.OpenTarget(name)
	if err != nil {
		return nil, nil, err
	}
	return scanSource(ctx, &Source{Name: name, T: t})
}

// scanSource reads every manifest in a target: "ID/manifest.json".
func scanSource(ctx context.Context, src *Source) (good []Manifest, bad []Damaged, err error) {
	objs, err := src.T.List(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	for _, o := range objs {
		id, rest, ok := strings.Cut(o.Key, "/")
		if !ok || rest != manifestName || strings.HasPrefix(id, ".") {
			continue
		}
		m, err := readSourceManifest(ctx, src, id, o.Size)
		switch {
		case err == nil:
			good = append(good, m)
		case errors.Is(err, target.ErrUnreachable), errors.Is(err, target.ErrAccess), errors.Is(err, target.ErrClock),
			errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return nil, nil, err
		default:
			bad = append(bad, Damaged{ID: id, Path: src.Name + ":" + id, Err: err})
		}
	}
	sortNewestFirst(good)
	sort.Slice(bad, func(i, j int) bool { return bad[i].ID > bad[j].ID })
	return good, bad, nil
}

func readSourceManifest(ctx context.Context, src *Source, id string, size int64) (Manifest, error) {
	shown := id
	if names.Check(id) != nil {
		shown = quote(id)
	}
	if size > maxManifest {
		return Manifest{}, refusal(ErrDamaged, "backup %s is damaged: its manifest is larger than %d MiB", shown, maxManifest>>20)
	}
	r, err := src.T.Get(ctx, id+"/"+manifestName, 0, -1)
	if err != nil {
		return Manifest{}, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxManifest+1))
	if err != nil {
		return Manifest{}, err
	}
	if len(b) > maxManifest {
		return Manifest{}, refusal(ErrDamaged, "backup %s is damaged: its manifest is larger than %d MiB", shown, maxManifest>>20)
	}
	m, err := decodeManifest(b, shown, id)
	if err != nil {
		return Manifest{}, err
	}
	m.Source = src
	return m, nil
}

// whereDir says where the backups beside m lie: a folder, or a target.
func (m Manifest) whereDir() string {
	if m.Source != nil {
		return "target " + m.Source.Name
	}
	return filepath.Dir(m.Path)
}

// siblings lists the backups lying where m lies: what its chain is made
// of.
func (s *Service) siblings(ctx context.Context, m Manifest) ([]Manifest, error) {
	if m.Source != nil {
		good, _, err := scanSource(ctx, m.Source)
		return good, err
	}
	return list(s.fs, filepath.Dir(m.Path))
}

// openStored opens a stored file of backup b as it is stored (compressed,
// maybe encrypted). rel comes from the manifest and is checked again.
func openStored(ctx context.Context, fs fsys.FS, b Manifest, rel string) (io.ReadCloser, error) {
	if b.Source == nil {
		p, err := join(b, rel)
		if err != nil {
			return nil, err
		}
		return fs.Open(p)
	}
	if names.CheckPath(rel) != nil {
		return nil, refusal(ErrDamaged, "backup %s is damaged: its manifest names the file %s", b.ID, quote(rel))
	}
	return target.Reader(ctx, b.Source.T, b.ID+"/"+rel)
}

// checkStored hashes a stored file without decoding it.
func checkStored(ctx context.Context, fs fsys.FS, b Manifest, rel string, size int64, sum, what string) error {
	f, err := openStored(ctx, fs, b, rel)
	if err != nil {
		if errors.Is(err, ErrDamaged) || isOffline(err) {
			return err
		}
		return fmt.Errorf("%s is missing: %w", what, ErrDamaged)
	}
	defer f.Close()
	return checkSum(ctx, f, size, sum, what)
}

// isOffline reports whether a target failed as a whole (not reachable,
// not accepting the key, clocks apart): not the backup's fault, and not
// to be called damage.
func isOffline(err error) bool {
	return errors.Is(err, target.ErrUnreachable) || errors.Is(err, target.ErrAccess) || errors.Is(err, target.ErrClock) ||
		errors.Is(err, target.ErrNoBucket)
}

// readKey reads the encrypted key of recipient where backup m lies.
func readKey(ctx context.Context, fs fsys.FS, m Manifest, dir, recipient string) ([]byte, error) {
	if m.Source == nil {
		return fsys.ReadFileLimit(fs, filepath.Join(dir, keysDir, recipient+".age"), 64<<10)
	}
	r, err := m.Source.T.Get(ctx, keysDir+"/"+recipient+".age", 0, 64<<10)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
