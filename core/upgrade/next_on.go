//go:build plinth_next

package upgrade

import (
	"path/filepath"

	"codeberg.org/plinth/plinth/storage"
	"codeberg.org/plinth/plinth/storage/fsys"
)

// A synthetic next format, built only with the tag plinth_next, for the
// tests that crash an upgrade at every step and run an older Plinth
// against newer data. Its migration is trivial: a record in each store
// and a file in the data folder.
const next = 1

// NextMark is what the synthetic next format's steps write.
const NextMark = "migrated by the next format"

var nextSteps = []Step{
	{Name: "mark the Manager store for the next format", To: 3, Store: storage.Manager, Tx: markNext},
	{Name: "mark the File Server store for the next format", To: 3, Store: storage.FileServer, Tx: markNext},
	{Name: "write the next format's note", To: 3, Dir: func(fs fsys.FS, dir string) error {
		return fsys.WriteFile(fs, filepath.Join(dir, "next-format.txt"), []byte(NextMark+"\n"), fsys.Options{})
	}},
}

func markNext(tx *storage.Tx) error { return tx.Set([]byte("meta/next"), []byte(NextMark)) }
