package app

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// openLog writes Plinth's log to <data>/logs/plinth.log, rotated at 10 MB
// with five old files kept. With toStderr, warnings and errors also go to
// stderr.
func openLog(dataDir string, toStderr bool) (*slog.Logger, func() error, error) {
	dir := filepath.Join(dataDir, "logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("cannot write the log in %s: %w", dir, err)
	}
	file := &lumberjack.Logger{
		Filename:   filepath.Join(dir, "plinth.log"),
		MaxSize:    10, // MB
		MaxBackups: 5,
		MaxAge:     90, // days
	}
	var h slog.Handler = slog.NewTextHandler(file, &slog.HandlerOptions{Level: slog.LevelInfo})
	if toStderr {
		h = slog.NewMultiHandler(h, slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(h), file.Close, nil
}
