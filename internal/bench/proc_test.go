package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis must not shift the fields.
	stat := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 8 0 12345 1000000 500 18446744073709551615\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3800 * time.Millisecond; got != want { // (250+130) ticks of 10ms
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("parseStatCPU of a short line: no error")
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tswitchboard\nVmPeak:\t  900000 kB\nVmHWM:\t   23456 kB\nVmRSS:\t   20000 kB\n"
	if got, want := parseStatusKB([]byte(status), "VmHWM:"), int64(23456<<10); got != want {
		t.Errorf("VmHWM = %d, want %d", got, want)
	}
	if got := parseStatusKB([]byte(status), "VmSwap:"); got != 0 {
		t.Errorf("absent VmSwap = %d, want 0", got)
	}
}

func TestPIDMeterReadsThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	u, err := PIDMeter(os.Getpid()).Read()
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSS <= 0 {
		t.Errorf("PIDMeter(self).PeakRSS = %d, want > 0", u.PeakRSS)
	}
	if s, err := (SelfMeter{}).Read(); err != nil || s.PeakRSS <= 0 {
		t.Errorf("SelfMeter.Read() = %+v, %v", s, err)
	}
}

func TestParseMachineBusy(t *testing.T) {
	stat := "cpu  100 5 50 9999 77 3 2 1 0 0\ncpu0 50 2 25 5000 30 1 1 0 0 0\n"
	got, err := parseMachineBusy([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 1610 * time.Millisecond; got != want { // 100+5+50+3+2+1 ticks, idle and iowait left out
		t.Errorf("parseMachineBusy = %v, want %v", got, want)
	}
	if _, err := parseMachineBusy([]byte("intr 1 2 3\n")); err == nil {
		t.Error("parseMachineBusy without a cpu line: no error")
	}
}
