package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcUsage is a process's resource use so far.
type ProcUsage struct {
	CPU     time.Duration // user + system time of all its threads
	PeakRSS int64         // peak resident set size in bytes; 0 if unknown
}

// Meter reads a process's resource use. A run reads it before and after and
// reports the difference in CPU and the peak RSS at the end.
type Meter interface {
	Read() (ProcUsage, error)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It
// is 100 on every Linux architecture Go supports (the kernel fixes the
// user-visible value regardless of CONFIG_HZ), so a 10 s run at 1000
// requests/s resolves CPU to 0.01 ms per request.
const clockTicks = 100

// PIDMeter reads another process's usage from Linux's /proc: utime+stime of
// all its threads from /proc/PID/stat and VmHWM (peak RSS) from
// /proc/PID/status. That is the process's own accounting, unaffected by what
// else runs on the machine.
type PIDMeter int

// Read implements [Meter].
func (p PIDMeter) Read() (ProcUsage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", int(p)))
	if err != nil {
		return ProcUsage{}, fmt.Errorf("bench: read cpu of pid %d: %w", int(p), err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return ProcUsage{}, fmt.Errorf("bench: /proc/%d/stat: %w", int(p), err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", int(p)))
	if err != nil {
		return ProcUsage{}, fmt.Errorf("bench: read memory of pid %d: %w", int(p), err)
	}
	return ProcUsage{CPU: cpu, PeakRSS: parseStatusKB(status, "VmHWM:")}, nil
}

// parseStatCPU returns utime+stime from the contents of /proc/PID/stat. The
// second field, the command name in parentheses, may itself hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command field")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("only %d fields", len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// parseStatusKB returns the value of a "Name:   123 kB" line of
// /proc/PID/status in bytes, or 0 when it is absent.
func parseStatusKB(status []byte, name string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		return kb << 10
	}
	return 0
}

// machineBusy returns the CPU time the whole machine spent busy (user, nice,
// system, irq, softirq and steal over all CPUs) from the first line of
// /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("bench: read machine cpu: %w", err)
	}
	return parseMachineBusy(b)
}

func parseMachineBusy(stat []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("bench: /proc/stat: no cpu line")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system [idle iowait] irq softirq steal
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc/stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// SelfMeter reads this process's usage with getrusage(RUSAGE_SELF): in a
// subprocess benchmark that is the load generator alone.
type SelfMeter struct{}

// Read implements [Meter].
func (SelfMeter) Read() (ProcUsage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return ProcUsage{}, fmt.Errorf("bench: getrusage: %w", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return ProcUsage{CPU: cpu, PeakRSS: ru.Maxrss << 10}, nil
}

// Process is a child process the benchmark started: the gateway or the
// emulator, so that each has its own CPU and memory accounting.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProcess runs name with args, its output going to logFile (nil
// discards it), and waits until GET readyURL answers (any status) or the
// process exits or 15 seconds pass.
func StartProcess(ctx context.Context, name string, args []string, readyURL string, logFile *os.File) (_ *Process, err error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", strings.Join(args, " "), err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := client.Get(readyURL); err == nil {
			resp.Body.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("bench: %s exited before it was ready: %v", strings.Join(args, " "), p.err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bench: %s not ready at %s after 15s", strings.Join(args, " "), readyURL)
		}
	}
}

// PID is the process id, for a [PIDMeter].
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM and waits up to 5 seconds for the process to exit, then
// kills it.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
