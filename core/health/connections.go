package health

import (
	"context"
	"slices"
	"strings"

	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/text"
)

// connections: paused after a crash, last run failed, sync token running
// out (only scheduled runs need it).
func (c *check) connections(context.Context) {
	conns, err := c.s.imodels.AllConnections()
	if err != nil {
		c.unreadable("connections.unreadable", "the iModel connections", PageIModels, err)
		return
	}
	last, err := c.s.imodels.LastRuns()
	if err != nil {
		c.unreadable("connections.unreadable", "the iModel connections' runs", PageIModels, err)
		last = nil
	}
	slices.SortFunc(conns, func(a, b imodel.Connection) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	for _, cn := range conns {
		job := "imodel.sync." + cn.ID
		name := quoted(cn.Name)
		scheduled := period(cn.Schedule) > 0
		switch r, ran := last[cn.ID]; {
		case cn.Paused != nil:
			during := ""
			if cn.Paused.File != "" {
				during = " while it read " + text.Safe(cn.Paused.File)
			}
			c.add(Reason{Code: "connection.paused", State: Attention, Page: PageIModels, Action: "Sync now…",
				Sentence: "Plinth stopped during the sync of connection " + name + during + " (" + when(cn.Paused.Since, c.now) + "), so its scheduled syncs are paused until a Sync now succeeds."})
		case !ran || r.State == "running" || r.State == "cancelled":
		case r.Result == imodel.ResultFailed:
			c.add(Reason{Code: "connection.failed", State: Attention, Page: PageIModels, Action: "Open iModels",
				Sentence: "The last sync of connection " + name + ", " + when(r.Started, c.now) + ", failed: " + clip(firstError(r)) + "."})
		case r.Result == imodel.ResultPartialSuccess:
			c.add(Reason{Code: "connection.partial", State: Attention, Page: PageIModels, Action: "Open iModels",
				Sentence: "The last sync of connection " + name + ", " + when(r.Started, c.now) + ", failed for some files: " + clip(firstError(r)) + "."})
		}
		if !scheduled {
			continue
		}
		switch left := cn.Token.Expires.Sub(c.now); {
		case left <= 0:
			c.add(Reason{Code: "token.expired", State: Attention, Page: PageIModels, Action: "Sync now…",
				Sentence: "The sync token of connection " + name + " expired " + when(cn.Token.Expires, c.now) + ": its scheduled syncs fail until " + text.Safe(cn.Owner) + " runs Sync now."})
		case left <= imodel.TokenRefresh:
			c.add(Reason{Code: "token.expiring", State: Attention, Page: PageIModels, Action: "Open iModels",
				Sentence: "The sync token of connection " + name + " runs out in " + age(left) + " (" + when(cn.Token.Expires, c.now) + "); " + text.Safe(cn.Owner) + " renews it by opening the iModels page or running Sync now."})
		}
		if cn.Paused == nil {
			c.due = append(c.due, dueJob{name: job, title: "The scheduled sync of connection " + name, spec: cn.Schedule,
				since: cn.Created, page: PageIModels, action: "Sync now…"})
		}
	}
}

// firstError is a run's first error, or a word that there was none.
func firstError(r imodel.Run) string {
	if e := r.FirstError(); e != "" {
		return e
	}
	return "no reason was recorded"
}
