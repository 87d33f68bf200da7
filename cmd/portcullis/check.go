package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"portcullis/internal/admin"
	"portcullis/internal/config"
)

func newCheckCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Load and compile a configuration and its policies without serving",
		Long: "Loads FILE and compiles everything it names (policies, expressions, named values).\n" +
			"Exit status 0 when valid; 1 with one file:line:col: message line per problem on stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usageError{errors.New("check needs --config FILE")}
			}
			stderr := cmd.ErrOrStderr()
			cfg, err := config.Load(configPath)
			if err != nil {
				return invalidConfig{configPath, printProblems(stderr, err)}
			}
			svc := &services{log: slog.New(slog.DiscardHandler), metrics: admin.NewMetrics(nil)}
			summary := ""
			if cfg.Gateway != nil {
				// Compiling registers openid-config sources, whose first fetch starts in the
				// background; check does not wait for it and closes the cache at once.
				plan, kc, err := svc.compilePlan(cfg)
				if err != nil {
					return invalidConfig{configPath, printProblems(stderr, err)}
				}
				kc.close()
				apis, ops := plan.Summary()
				plan.Close()
				summary = fmt.Sprintf(" (%d APIs, %d operations)", apis, ops)
			}
			if err := checkSeed(cfg); err != nil {
				return invalidConfig{configPath, printProblems(stderr, err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid%s\n", configPath, summary)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (YAML)")
	return cmd
}
