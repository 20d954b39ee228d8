// Package storage opens Plinth's two Badger stores (the manager store, which
// is the catalog, and the fileserver store, which holds file contents) with
// options sized for a desktop machine, and gives the rest of Plinth typed,
// transactional access to them.
//
// # Stores
//
// A store is one Badger database in its own directory. Each store carries an
// identity (a random id chosen when it is created), its kind, and a restore
// generation that every restore bumps, so that the manager can tell which
// fileserver it last agreed with. The manager store is opened with
// SyncWrites on: a write it acknowledges survives a power cut.
//
// # Key layout
//
// Keys are ASCII paths, "<collection>/<id>", values are JSON unless a
// collection says otherwise. The layout, per store:
//
//	both stores
//	  meta/identity             Identity: id, kind, generation, created
//	  meta/fileset              FileSet: file count, bytes, set digest
//	  meta/<name>               other store-wide counters and markers
//
//	manager
//	  user/<name>               account.User (password hash, role, lockout)
//	  grant/<item>/<user>       explicit permissions of a user on an item
//	  setting/<key>             settings, one JSON value per key
//	  job/<name>                scheduler state of a timed job
//
// Later parts of Plinth add collections (folders, file entries, intents,
// notifications, connections); each is declared once with NewCollection and
// listed in the package that owns it.
//
// # Writes
//
// Small, atomic changes go through Store.Update. Bulk writes that may exceed
// Badger's transaction limit (about 15% of the memtable) go through
// Store.NewBatch, which splits them into as many commits as needed, so
// badger.ErrTxnTooBig never reaches a user.
package storage
