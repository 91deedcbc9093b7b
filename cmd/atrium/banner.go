package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-isatty"
)

// tokenFile is where up keeps the admin token it made, for its user to
// read (0600 in the data directory): the admin API is useless without it.
const tokenFile = "admin-token"

// saveToken writes a generated admin token to the data directory.
func saveToken(dataDir, token string) (string, error) {
	path := filepath.Join(dataDir, tokenFile)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return path, nil
}

// announce waits until the server at base is ready (its /readyz, up to a
// minute) and says where everything is: a few lines for a person at a
// terminal, one log record otherwise. tokenPath is where a generated admin
// token is, "" when the user chose it.
func announce(ctx context.Context, base, mode, tokenPath string, logger *slog.Logger) {
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(time.Minute); ; {
		if resp, err := client.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			logger.Warn("not ready a minute after starting: see /readyz", "url", base+"/readyz")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	token := "the one you set (ATRIUM_ADMIN_TOKEN or --admin-token)"
	if tokenPath != "" {
		token = "made up for this run, in " + tokenPath + " (set ATRIUM_ADMIN_TOKEN to choose one)"
	}
	if isatty.IsTerminal(os.Stderr.Fd()) {
		fmt.Fprintf(os.Stderr, "\natrium is ready (%s)\n  API      %s/api/v1/products\n  docs     %s/docs\n  metrics  %s/metrics\n  admin    token %s\n\n",
			mode, base, base, base, token)
		return
	}
	logger.Info("ready", "mode", mode, "api", base+"/api/v1", "docs", base+"/docs", "metrics", base+"/metrics", "admin_token", token)
}
