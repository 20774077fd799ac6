package main

import (
	"context"
	"errors"
	"io"
)

func runLoadgen(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return errors.New("loadgen: not built yet")
}
