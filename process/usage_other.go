//go:build !linux

package process

import "time"

// Tree returns the pid of the process: its descendants are found through
// Linux's /proc only.
func (p *Server) Tree() []int { return TreeOf(p.Cmd.Process.Pid) }

// TreeOf returns pid alone: descendants are found through Linux's /proc
// only.
func TreeOf(pid int) []int { return []int{pid} }

// Usage is the CPU time a set of processes has used, and the sum of their
// peak resident memory.
type Usage struct {
	CPU     time.Duration
	PeakRSS int64 // bytes
}

// Usage is zero off Linux: it is read from /proc.
func (p *Server) Usage() Usage { return Usage{} }

// UsageOf is zero off Linux: it is read from /proc.
func UsageOf(...int) Usage { return Usage{} }
