//go:build debugvm

package testvm

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

type tsWriter struct{ start time.Time }

func (w tsWriter) Write(p []byte) (int, error) {
	fmt.Fprintf(os.Stderr, "[%5.1f] %s", time.Since(w.start).Seconds(), p)
	return len(p), nil
}

func TestDebug(t *testing.T) {
	iso := testISO(t)
	w := tsWriter{time.Now()}
	res, err := Run(context.Background(), Config{ISO: iso, Rootfs: os.Getenv("ROOTFS"), Kernel: os.Getenv("KERNEL"), Modules: os.Getenv("MODULES"), Exec: os.Getenv("EXEC"), Log: w, Console: w, Timeout: timeoutFromEnv()})
	fmt.Fprintf(os.Stderr, "res=%+v err=%v\n", res.Duration, err)
}

func timeoutFromEnv() time.Duration {
	d, _ := time.ParseDuration(os.Getenv("TIMEOUT"))
	return d
}
