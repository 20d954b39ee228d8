package app

import (
	"log/slog"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// openLog writes Plinth's log to <data>/logs/plinth.log, rotated at 10 MB
// with five old files kept. With toStderr, warnings and errors also go to
// stderr. A log that cannot be written (a full or read-only disk) does not
// keep Plinth from opening: it then logs to stderr alone, if at all.
// fileOnly is the same log without stderr, for Badger, whose errors about a
// store that does not open are said once, in Open's sentence.
func openLog(dataDir string, toStderr bool) (log, fileOnly *slog.Logger, closeLog func() error) {
	var hs []slog.Handler
	if toStderr {
		hs = append(hs, slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	dir := filepath.Join(dataDir, "logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return slog.New(slog.NewMultiHandler(hs...)), slog.New(slog.DiscardHandler), nil
	}
	file := &lumberjack.Logger{
		Filename:   filepath.Join(dir, "plinth.log"),
		MaxSize:    10, // MB
		MaxBackups: 5,
		MaxAge:     90, // days
	}
	fh := slog.NewTextHandler(file, &slog.HandlerOptions{Level: slog.LevelInfo})
	return slog.New(slog.NewMultiHandler(append(hs, fh)...)), slog.New(fh), file.Close
}
