package imodel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/names"
)

// MaxListed is how many entries of a source folder SourceFiles looks at:
// a folder of design files holds tens or hundreds; the root of a share
// may hold far more, and reading all of them would keep a dialog waiting.
const MaxListed = 5000

// SourceFiles lists the IFC design files (.ifc) directly in a source
// folder, sorted by name, for a user to choose from when mapping. A
// folder on disk is read in batches, no further than its first MaxListed
// entries; a folder on Plinth's file server is listed through core/files
// with the actor's rights, no further than MaxListed nodes either. more
// says the folder holds entries that were not looked at. Names that
// names.Check refuses are left out, as mapping would refuse them. It
// needs Modify content on the iModel, as mapping does.
func (s *Service) SourceFiles(ctx context.Context, actor account.Actor, imodel string, src Source) (found []string, more bool, err error) {
	if _, err := s.checkIModel(ctx, actor, imodel, account.ModifyContent); err != nil {
		return nil, false, err
	}
	if src, err = s.checkSource(ctx, actor, src); err != nil {
		return nil, false, err
	}
	if src.Kind == SourceFileServer {
		found, more, err = s.serverIFCs(ctx, actor, src.Path)
	} else {
		found, more, err = diskIFCs(ctx, src.Path)
	}
	sort.SliceStable(found, func(i, j int) bool { return strings.ToLower(found[i]) < strings.ToLower(found[j]) })
	return found, more, err
}

// isIFC reports whether name is one a user may map: an .ifc file with a
// name names.Check accepts.
func isIFC(name string) bool {
	return strings.EqualFold(path.Ext(name), ".ifc") && names.Check(name) == nil
}

// diskIFCs reads the .ifc files of a folder on disk, looking at no more
// than MaxListed entries.
func diskIFCs(ctx context.Context, dir string) (found []string, more bool, err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false, fmt.Errorf("the source folder %s cannot be read: %w", dir, err)
	}
	defer f.Close()
	for seen := 0; seen < MaxListed; {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		batch, err := f.ReadDir(min(256, MaxListed-seen))
		seen += len(batch)
		for _, e := range batch {
			if t := e.Type(); (t.IsRegular() || t&fs.ModeSymlink != 0) && isIFC(e.Name()) {
				found = append(found, e.Name())
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			return found, false, nil
		case err != nil:
			return found, false, fmt.Errorf("the source folder %s cannot be read: %w", dir, err)
		}
	}
	next, _ := f.ReadDir(1)
	return found, len(next) > 0, nil
}

// serverIFCs lists the .ifc files of a folder on Plinth's file server.
func (s *Service) serverIFCs(ctx context.Context, actor account.Actor, folder string) (found []string, more bool, err error) {
	n, err := s.files.Lookup(ctx, actor, folder)
	if err != nil {
		return nil, false, fmt.Errorf("the source folder %s: %w", folder, err)
	}
	kids, err := s.files.List(ctx, actor, n.ID)
	if err != nil {
		return nil, false, fmt.Errorf("the source folder %s: %w", folder, err)
	}
	if len(kids) > MaxListed {
		kids, more = kids[:MaxListed], true
	}
	for _, k := range kids {
		if k.Kind == files.KindFile && isIFC(k.Name) {
			found = append(found, k.Name)
		}
	}
	return found, more, nil
}
