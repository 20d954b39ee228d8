package imodel

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage"
)

// ReportJSON is a run's report as JSON, shaped like iTwin's
// synchronization reports: the run's state and result, then each file
// with its state, counts, warnings and errors (category, whether the user
// can fix it).
func ReportJSON(r Run) ([]byte, error) {
	type file struct {
		File      string        `json:"file"`
		State     string        `json:"state"`
		Inserted  int           `json:"inserted"`
		Updated   int           `json:"updated"`
		Deleted   int           `json:"deleted"`
		Unchanged int           `json:"unchanged"`
		Warnings  int           `json:"warnings"`
		Details   []string      `json:"warningDetails,omitempty"`
		Errors    []ReportError `json:"errors,omitempty"`
		Seconds   float64       `json:"seconds"`
	}
	out := struct {
		Run        string        `json:"run"`
		Connection string        `json:"connection"`
		By         string        `json:"by"`
		Trigger    string        `json:"trigger"`
		Started    time.Time     `json:"started"`
		Finished   time.Time     `json:"finished,omitzero"`
		State      string        `json:"state"`
		Result     string        `json:"result"`
		Changeset  int64         `json:"changeset,omitempty"`
		Errors     []ReportError `json:"errors,omitempty"`
		Files      []file        `json:"files"`
	}{r.ID, r.ConnName, r.By, r.Trigger, r.Started, r.Finished, r.State, r.Result, r.Changeset, r.Errors, []file{}}
	for _, f := range r.Files {
		x := file{File: f.File, State: f.State, Inserted: f.Inserted, Updated: f.Updated, Deleted: f.Deleted, Unchanged: f.Unchanged,
			Warnings: len(f.Warnings), Errors: f.Errors, Seconds: f.Seconds}
		for _, w := range f.Warnings {
			x.Details = append(x.Details, w.String())
		}
		out.Files = append(out.Files, x)
	}
	return json.MarshalIndent(out, "", "  ")
}

// ReportCSV is a run's report as CSV: one row per file, then one per
// warning and error.
func ReportCSV(r Run) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"run", "connection", "result", "file", "state", "inserted", "updated", "deleted", "unchanged", "kind", "category", "userFixable", "line", "message"})
	base := []string{r.ID, r.ConnName, r.Result}
	itoa := strconv.Itoa
	for _, e := range r.Errors {
		_ = w.Write(append(base, "", r.State, "", "", "", "", "error", e.Category, strconv.FormatBool(e.UserFixable), "", e.Message))
	}
	for _, f := range r.Files {
		counts := []string{f.File, f.State, itoa(f.Inserted), itoa(f.Updated), itoa(f.Deleted), itoa(f.Unchanged)}
		_ = w.Write(append(append(append([]string{}, base...), counts...), "file", "", "", "", ""))
		for _, x := range f.Warnings {
			_ = w.Write(append(append(append([]string{}, base...), counts...), "warning", "", "true", itoa(x.Line), x.Msg))
		}
		for _, e := range f.Errors {
			_ = w.Write(append(append(append([]string{}, base...), counts...), "error", e.Category, strconv.FormatBool(e.UserFixable), itoa(e.Line), e.Message))
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("write the report: %w", err)
	}
	return b.Bytes(), nil
}

// Report is a run's report as JSON, or as CSV when format is "csv".
func Report(r Run, format string) ([]byte, error) {
	if format == "csv" {
		return ReportCSV(r)
	}
	return ReportJSON(r)
}

// ExportReport writes a run's report to dest as JSON or CSV ("csv"),
// atomically: a temporary file, synced, renamed into place.
func (s *Service) ExportReport(ctx context.Context, actor account.Actor, conn, run, format, dest string) error {
	if _, err := s.Connection(ctx, actor, conn); err != nil {
		return err
	}
	var r Run
	err := s.mgr.View(func(tx *storage.Tx) (err error) {
		r, err = runs.Get(tx, conn+"/"+run)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("the connection has no run %s", run)
	}
	if err != nil {
		return err
	}
	b, err := Report(r, format)
	if err != nil {
		return err
	}
	if _, err := files.WriteAtomic(dest, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(dest), err)
	}
	return nil
}
