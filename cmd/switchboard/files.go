package main

import (
	"fmt"
	"io"
	"os"
)

// writeFile creates path and writes it with write, reporting a failure to
// write or to close it (the data may only be on disk at Close).
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
