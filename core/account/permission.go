package account

import (
	"fmt"
	"strings"
)

// Permission is a set of detailed permissions on one item.
type Permission uint8

// The detailed permissions, as the admin sees them in access dialogs.
const (
	View Permission = 1 << iota
	ModifyDetails
	ModifyContent
	ModifyAccess
	DeleteContent

	// None is the empty set.
	None Permission = 0
	// All is every permission.
	All = View | ModifyDetails | ModifyContent | ModifyAccess | DeleteContent
	// FullAccess is what "full access on the Servers page" means: the
	// holder sees the page and may change its content and details.
	FullAccess = View | ModifyContent | ModifyDetails
)

// Each lists the single permissions in display order.
var Each = []Permission{View, ModifyDetails, ModifyContent, ModifyAccess, DeleteContent}

var permNames = map[Permission]string{
	View:          "View item",
	ModifyDetails: "Modify details",
	ModifyContent: "Modify content",
	ModifyAccess:  "Modify access",
	DeleteContent: "Delete content",
}

// Has reports whether p holds every permission in q.
func (p Permission) Has(q Permission) bool { return p&q == q }

// String names the permissions in p, e.g. "View item, Modify content".
func (p Permission) String() string {
	if p == None {
		return "no permission"
	}
	var names []string
	for _, one := range Each {
		if p.Has(one) {
			names = append(names, permNames[one])
		}
	}
	return strings.Join(names, ", ")
}

// ItemKind says what sort of thing an Item is.
type ItemKind string

// The kinds of item that carry permissions.
const (
	KindServers ItemKind = "servers" // the Servers page
	KindProject ItemKind = "project"
	KindLibrary ItemKind = "library"
	KindFolder  ItemKind = "folder"
	KindIModel  ItemKind = "imodel"
)

// Item is something permissions apply to.
type Item struct {
	Kind ItemKind
	ID   string
	Name string // for messages; "" falls back to ID
}

// ServersPage is the Servers page, which is an item of its own.
var ServersPage = Item{Kind: KindServers, ID: "servers"}

// key is how grants on the item are stored.
func (i Item) key() string { return string(i.Kind) + ":" + i.ID }

// String is how messages name the item: "the Servers page", "project Tower".
func (i Item) String() string {
	if i.Kind == KindServers {
		return "the Servers page"
	}
	name := i.Name
	if name == "" {
		name = i.ID
	}
	return fmt.Sprintf("%s %q", i.Kind, name)
}

// Role is a user's simplified role.
type Role string

// The simplified roles.
const (
	RoleServerAdmin  Role = "server-admin"
	RoleProjectAdmin Role = "project-admin"
	RoleNone         Role = "none"
)

// Roles lists the roles in display order.
var Roles = []Role{RoleServerAdmin, RoleProjectAdmin, RoleNone}

// Label is the role's name in the window.
func (r Role) Label() string {
	switch r {
	case RoleServerAdmin:
		return "Server Administrator"
	case RoleProjectAdmin:
		return "Project Administrator"
	case RoleNone:
		return "None"
	}
	return string(r)
}

// ParseRole accepts a role's id ("server-admin") or label ("Server Administrator").
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if strings.EqualFold(s, string(r)) || strings.EqualFold(s, r.Label()) {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q: use server-admin, project-admin or none", s)
}

// rolePermissions maps a simplified role onto detailed permissions on an
// item. Server Administrators may do everything. Project Administrators
// manage every project, library, folder and iModel and may look at the
// Servers page. Everyone else may see projects and their files, and needs
// an explicit grant for anything more.
func rolePermissions(r Role, kind ItemKind) Permission {
	switch r {
	case RoleServerAdmin:
		return All
	case RoleProjectAdmin:
		if kind == KindServers {
			return View
		}
		return All
	default:
		if kind == KindServers {
			return None
		}
		return View
	}
}
