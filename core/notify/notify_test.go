package notify

import (
	"context"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/storage"
)

func TestRecipientsAndCenter(t *testing.T) {
	st, err := storage.Open(t.TempDir(), storage.Manager, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc := account.NewService(st)
	ctx := context.Background()
	master, _ := acc.Bootstrap(ctx, "master password")
	for name, role := range map[string]account.Role{"sam": account.RoleServerAdmin, "pat": account.RoleProjectAdmin, "nora": account.RoleNone} {
		if err := acc.AddUser(ctx, master, account.NewUser{Name: name, Role: role, Password: name + " password"}); err != nil {
			t.Fatal(err)
		}
	}
	// nora gets full access on the Servers page by an explicit grant.
	if err := acc.Grant(ctx, master, account.ServersPage, "nora", account.FullAccess); err != nil {
		t.Fatal(err)
	}
	s := NewService(st, acc, nil)
	tests := []struct {
		ev   Event
		want string
	}{
		{Event{Kind: FileSyncNeeded}, "masteradmin,nora,sam"},
		{Event{Kind: BackupFailed}, "masteradmin,sam"},
		{Event{Kind: FileSyncRefused, To: []string{"pat"}}, "pat"},
		{Event{Kind: TokenExpired, To: []string{"pat"}}, "pat"},
	}
	for _, tt := range tests {
		got, err := s.Recipients(ctx, tt.ev)
		if err != nil || strings.Join(got, ",") != tt.want {
			t.Errorf("%s: got %v, %v; want %s", tt.ev.Kind, got, err, tt.want)
		}
	}

	changed := map[string]int{}
	s.OnChange(func(u string) { changed[u]++ })
	if err := s.Publish(ctx, Event{Kind: FileSyncNeeded, Severity: Warning, Text: "first", Target: TargetFileServerSettings}); err != nil {
		t.Fatal(err)
	}
	_ = s.Publish(ctx, Event{Kind: FileSyncCompleted, Text: "second"})
	if changed["sam"] != 2 || changed["pat"] != 0 {
		t.Fatalf("change listeners heard %v", changed)
	}
	sam, _ := acc.Login(ctx, "sam", "sam password")
	l, _ := s.List(ctx, sam, false)
	if len(l) != 2 || l[0].Text != "second" || l[1].Target != TargetFileServerSettings {
		t.Fatalf("sam's center (newest first) = %+v", l)
	}
	_ = s.MarkRead(ctx, sam, l[1].ID)
	if n, _ := s.Unread(ctx, sam); n != 1 {
		t.Fatalf("unread after marking one read = %d", n)
	}
	// When the stores agree again, "sync needed" disappears for everyone.
	_ = s.Withdraw(ctx, FileSyncNeeded)
	l, _ = s.List(ctx, sam, false)
	if len(l) != 1 || l[0].Kind != FileSyncCompleted {
		t.Fatalf("after withdraw: %+v", l)
	}
	pat, _ := acc.Login(ctx, "pat", "pat password")
	if l, _ := s.List(ctx, pat, false); len(l) != 0 {
		t.Fatalf("pat (no Servers access) got %+v", l)
	}
}
