package main

import "github.com/spf13/cobra"

func newServeCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "serve",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errNotBuilt}
		},
	}
}
