package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/internal/compare"
)

func compareCommand() *ffcli.Command {
	fs := flag.NewFlagSet("atrium compare", flag.ContinueOnError)
	duration := fs.Duration("duration", 5*time.Second, "length of each measured load run; the whole comparison takes about 25 of them (env ATRIUM_DURATION)")
	rate := fs.Int("rate", 200, "requests per second of the open-loop runs (env ATRIUM_RATE)")
	workers := fs.Int("workers", 32, "concurrent clients of the closed-loop runs (env ATRIUM_WORKERS)")
	out := fs.String("out", "docs/comparison.md", "the Markdown report; the JSON and the SVG charts go beside it (env ATRIUM_OUT)")
	scenarios := fs.String("scenarios", "", "comma-separated subset of steady,latency,isolation,scaling,deploy (env ATRIUM_SCENARIOS)")
	return &ffcli.Command{
		Name:       "compare",
		ShortUsage: "atrium compare [--duration 5s] [--rate 200] [--out docs/comparison.md]",
		ShortHelp:  "run the monolith and the microservices under the same load and report both side by side",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			cfg := compare.Config{
				Binary: self, Duration: *duration, Rate: *rate, Workers: *workers, Progress: os.Stderr,
				Command: "atrium compare " + strings.Join(os.Args[2:], " "),
			}
			if *scenarios != "" {
				cfg.Scenarios = strings.Split(*scenarios, ",")
			}
			rep, err := compare.Run(ctx, cfg)
			if err != nil {
				return err
			}
			if err := rep.Write(*out); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "report written to %s\n", *out)
			return nil
		},
	}
}
