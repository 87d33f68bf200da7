package main

import "github.com/spf13/cobra"

func newKeysCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "keys",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errNotBuilt}
		},
	}
}
