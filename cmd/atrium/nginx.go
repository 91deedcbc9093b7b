package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/deploy/nginx"
	"github.com/atrium-bff/atrium/registry"
)

func nginxConfigCommand() *ffcli.Command {
	fs := flag.NewFlagSet("atrium nginx-config", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8088", "nginx's address (env ATRIUM_LISTEN)")
	gateways := fs.String("gateways", "127.0.0.1:8080", "comma-separated gateway addresses (env ATRIUM_GATEWAYS)")
	reg := fs.String("registry", "", "a gateway's base URL: add an upstream and a /services/{name}/ location per service from its registry (env ATRIUM_REGISTRY)")
	token := fs.String("admin-token", "", "the admin token, for --registry (env ATRIUM_ADMIN_TOKEN)")
	prefix := fs.String("prefix", "nginx", "directory for nginx's pid, logs and temporary files (env ATRIUM_PREFIX)")
	out := fs.String("out", "", "file to write; default standard output (env ATRIUM_OUT)")
	sticky := fs.String("sticky", "", `keep each client on one gateway: "ip" (ip_hash) or "cookie:NAME" (env ATRIUM_STICKY)`)
	return &ffcli.Command{
		Name:       "nginx-config",
		ShortUsage: "atrium nginx-config [--listen 127.0.0.1:8088] [--gateways a,b] [--registry URL] [--out FILE]",
		ShortHelp:  "write an nginx configuration that load-balances the gateways (and, from the registry, the services)",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, args []string) error {
			if err := noArgs("nginx-config", args); err != nil {
				return err
			}
			if *sticky != "" && *sticky != "ip" && !strings.HasPrefix(*sticky, "cookie:") {
				return errors.New(`nginx-config: --sticky is "ip" or "cookie:NAME"`)
			}
			dir, err := filepath.Abs(*prefix)
			if err != nil {
				return err
			}
			cfg := nginx.Config{Listen: *listen, Gateways: strings.Split(*gateways, ","), Prefix: dir, Sticky: *sticky}
			if *reg != "" {
				if *token == "" {
					return errors.New("nginx-config: --registry needs --admin-token")
				}
				insts, err := registry.NewClient(*reg+"/admin/registry", *token).Instances(ctx, "")
				if err != nil {
					return err
				}
				cfg.Services = map[string][]string{}
				for _, i := range insts {
					cfg.Services[i.Service] = append(cfg.Services[i.Service], i.HostPort())
				}
			}
			w := os.Stdout
			if *out != "" {
				f, err := os.Create(*out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return nginx.Write(w, cfg)
		},
	}
}
