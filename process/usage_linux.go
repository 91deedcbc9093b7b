package process

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Tree returns the pids of the process and all its descendants.
func (p *Server) Tree() []int { return TreeOf(p.Cmd.Process.Pid) }

// TreeOf returns pid and the pids of all its descendants.
func TreeOf(pid int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fields := statFields(string(b))
		if len(fields) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], pid)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// Usage is the CPU time a set of processes has used, and the sum of their
// peak resident memory.
type Usage struct {
	CPU     time.Duration
	PeakRSS int64 // bytes
}

// Usage reads the CPU time and peak RSS of the process tree from /proc.
// A process that has exited since Tree is left out.
func (p *Server) Usage() Usage { return UsageOf(p.Tree()...) }

// UsageOf reads the CPU time and peak RSS of the processes pids from
// /proc; one that has exited is left out.
func UsageOf(pids ...int) Usage {
	var u Usage
	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			f := statFields(string(b))
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				u.CPU += time.Duration(ut+st) * time.Second / clockTicks
			}
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
					u.PeakRSS += kb * 1024
				}
			}
		}
	}
	return u
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux.
const clockTicks = 100

// statFields splits /proc/<pid>/stat after the command name (which may hold
// spaces): field 0 is the state, 1 the parent pid, 11 and 12 utime and stime.
func statFields(stat string) []string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}
