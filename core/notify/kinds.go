package notify

// Kind names what happened; users switch notifications on and off per kind.
type Kind string

// The kinds of notification.
const (
	FileSyncNeeded    Kind = "filesync.needed"
	FileSyncAttempted Kind = "filesync.attempted" // a non-masteradmin tried to synchronize (to masteradmin)
	FileSyncRefused   Kind = "filesync.refused"   // to the user who tried
	FileSyncCompleted Kind = "filesync.completed"
	FileSyncFailed    Kind = "filesync.failed"
	BackupSucceeded   Kind = "backup.succeeded"
	BackupFailed      Kind = "backup.failed"
	BackupPruned      Kind = "backup.pruned" // retention removed full backups
	SnapshotFailed    Kind = "snapshot.failed"
	RestoreCompleted  Kind = "restore.completed"
	ConnectionFailed  Kind = "connection.failed"
	ConnectionPartial Kind = "connection.partial"
	TokenExpiring     Kind = "token.expiring"
	TokenExpired      Kind = "token.expired"
	LowDiskSpace      Kind = "disk.low"
	ChannelFailed     Kind = "channel.failed" // a desktop or e-mail delivery keeps failing
)

// Audience says who, besides masteradmin, receives an event.
type Audience int

// Audiences.
const (
	// ServerFullAccess is everyone with full access on the Servers page.
	ServerFullAccess Audience = iota
	// ServerAdmins is everyone with the Server Administrator role.
	ServerAdmins
	// Only is exactly the users in Event.To (masteradmin only if listed).
	Only
)

// KindInfo describes a kind for the settings page and for routing.
type KindInfo struct {
	Kind     Kind
	Title    string // what the user switches on and off
	Audience Audience
	// InAppOnly kinds never go to the desktop or by e-mail (a failing
	// channel cannot report its own failure).
	InAppOnly bool
}

// Kinds lists every kind in the order the settings page shows them.
var Kinds = []KindInfo{
	{FileSyncNeeded, "Full file synchronization needed", ServerFullAccess, false},
	{FileSyncAttempted, "Someone else tried to synchronize files", Only, false},
	{FileSyncRefused, "My synchronization attempt was refused", Only, false},
	{FileSyncCompleted, "File synchronization completed", ServerFullAccess, false},
	{FileSyncFailed, "File synchronization failed", ServerFullAccess, false},
	{BackupSucceeded, "Backup succeeded", ServerAdmins, false},
	{BackupFailed, "Backup failed", ServerAdmins, false},
	{BackupPruned, "Old backups removed by retention", ServerAdmins, false},
	{SnapshotFailed, "OS snapshot command failed", ServerAdmins, false},
	{RestoreCompleted, "Restore completed", ServerAdmins, false},
	{ConnectionFailed, "Connection sync failed", Only, false},
	{ConnectionPartial, "Connection sync partly succeeded", Only, false},
	{TokenExpiring, "Sync token expires within 10 days", Only, false},
	{TokenExpired, "Sync token expired", Only, false},
	{LowDiskSpace, "Low disk space on a store or backup target", ServerAdmins, false},
	{ChannelFailed, "Desktop or e-mail delivery problems", ServerAdmins, true},
}

// About returns what is known about a kind.
func About(k Kind) KindInfo {
	for _, i := range Kinds {
		if i.Kind == k {
			return i
		}
	}
	return KindInfo{Kind: k, Title: string(k), Audience: ServerAdmins}
}
