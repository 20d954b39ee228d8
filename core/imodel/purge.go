package imodel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/text"
	"codeberg.org/plinth/plinth/storage"
)

// guardDelete refuses to delete iModels that still have connections: their
// syncs and schedules would be left pointing at nothing.
func (s *Service) guardDelete(_ context.Context, nodes []files.Node) error {
	for _, n := range nodes {
		var conns []Connection
		err := s.mgr.View(func(tx *storage.Tx) (err error) {
			conns, err = imodelConnections(tx, n.ID)
			return err
		})
		if err != nil {
			return err
		}
		if len(conns) > 0 {
			names := make([]string, len(conns))
			for i, c := range conns {
				names[i] = fmt.Sprintf("%q", c.Name)
			}
			return fmt.Errorf("the iModel %s still has %s (%s); delete them on the iModels page first", n.Name,
				text.Count(len(conns), "connection"), strings.Join(names, ", "))
		}
	}
	return nil
}

// purge removes what is kept for an iModel that is gone: its elements,
// applied scopes, changesets, counts, coordinates and members.
func (s *Service) purge(_ context.Context, id string) {
	for _, p := range []string{elements.Prefix(), staged.Prefix(), scopes.Prefix(), changesets.Prefix()} {
		if err := deletePrefix(s.fsr, []byte(p+id+"/")); err != nil {
			s.log.Warn("purge iModel", "imodel", id, "err", err)
		}
	}
	if err := deletePrefix(s.mgr, members.Key(id+"/")); err != nil {
		s.log.Warn("purge iModel members", "imodel", id, "err", err)
	}
	_ = s.fsr.Update(func(tx *storage.Tx) error {
		return errors.Join(stats.Delete(tx, id), geos.Delete(tx, id))
	})
}

// purgeOrphans purges the iModels whose node no longer exists (a crash
// between deleting the node and purging); Recover calls it.
func (s *Service) purgeOrphans(ctx context.Context) error {
	var ids []string
	err := s.fsr.View(func(tx *storage.Tx) error {
		return stats.Scan(tx, "", func(id string, _ Stats) error {
			ids = append(ids, id)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.files.Path(ctx, id); errors.Is(err, files.ErrNotFound) {
			s.purge(ctx, id)
		}
	}
	return nil
}

// deletePrefix deletes every key under prefix, in batches.
func deletePrefix(st *storage.Store, prefix []byte) error {
	for {
		var keys [][]byte
		err := st.View(func(tx *storage.Tx) error {
			return tx.ScanKeys(prefix, func(k []byte) error {
				if len(keys) == 5000 {
					return errStop
				}
				keys = append(keys, append([]byte(nil), k...))
				return nil
			})
		})
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		b := st.NewBatch()
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				b.Cancel()
				return err
			}
		}
		if err := b.Flush(); err != nil {
			return err
		}
	}
}
