package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/internal/rest"
)

func scaleCommand() *ffcli.Command {
	fs := flag.NewFlagSet("atrium scale", flag.ContinueOnError)
	base := fs.String("gateway", "http://127.0.0.1:8080", "the base URL of the atrium up whose services to scale (env ATRIUM_GATEWAY)")
	token := fs.String("admin-token", "", "its admin token (env ATRIUM_ADMIN_TOKEN)")
	return &ffcli.Command{
		Name:       "scale",
		ShortUsage: "atrium scale [--gateway URL] catalog=3[,reviews=2…]",
		ShortHelp:  "start or stop replicas of services of a running atrium up; the ones stopped deregister and drain first",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageError{"scale: name the services and their replicas, e.g. atrium scale catalog=3"}
			}
			counts := map[string]int{}
			var order []string
			err := perService("scale", args[0], func(name, n string) error {
				count, err := strconv.Atoi(n)
				if err != nil || count < 1 || count > 32 {
					return fmt.Errorf("%s=%s: want 1 to 32 replicas", name, n)
				}
				counts[name] = count
				order = append(order, name)
				return nil
			})
			if err != nil {
				return usageError{err.Error()}
			}
			if *token == "" {
				return errors.New("scale: set --admin-token or ATRIUM_ADMIN_TOKEN")
			}
			edge := rest.NewEdge(strings.TrimSuffix(*base, "/"), nil, *token)
			for _, name := range order {
				cctx, cancel := context.WithTimeout(ctx, time.Minute) // stopping replicas waits for them to drain
				var got gateway.Replicas
				err := edge.Call(cctx, "PUT", "/admin/services/"+name+"/replicas", nil, map[string]int{"replicas": counts[name]}, &got)
				cancel()
				if err != nil {
					return fmt.Errorf("scale %s: %w", name, err)
				}
				fmt.Printf("%s: %d → %d replicas\n", got.Service, got.Was, got.Replicas)
			}
			return nil
		},
	}
}
