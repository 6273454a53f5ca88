package proc

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readPID waits for a pid file a job's process writes.
func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never written", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestJobKillsDetachedProcesses: processes that leave the job's session (setsid, a double fork, a child that
// drops its environment under a parent that kept it) remain the job's after the job's script ended, and Kill ends them all.
func TestJobKillsDetachedProcesses(t *testing.T) {
	t.Parallel()
	s := spec(t, "")
	d := s.Dir
	s.Script = `
setsid nohup bash -c 'echo $$ > "$1.tmp" && mv "$1.tmp" "$1"; exec sleep 991' d1 ` + d + `/d1 >/dev/null 2>&1 &
( setsid bash -c '( echo $BASHPID > "$1.tmp" && mv "$1.tmp" "$1"; exec sleep 992 ) &' d2 ` + d + `/d2 >/dev/null 2>&1 & )
setsid bash -c 'env -i bash -c "echo \$\$ > $1.tmp && mv $1.tmp $1; exec sleep 993"; :' d3 ` + d + `/d3 >/dev/null 2>&1 &
until [ -f ` + d + `/d1 ] && [ -f ` + d + `/d2 ] && [ -f ` + d + `/d3 ]; do sleep 0.01; done
`
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	pids := []int{readPID(t, filepath.Join(d, "d1")), readPID(t, filepath.Join(d, "d2")), readPID(t, filepath.Join(d, "d3"))}
	if code := p.Wait(); code != 0 {
		t.Fatalf("script exited %d", code)
	}
	var members []int
	for _, m := range p.Members() {
		members = append(members, m.pid)
	}
	for _, pid := range pids {
		st, err := readStat(pid)
		if err != nil {
			t.Fatalf("daemon %d is gone before the kill: %v", pid, err)
		}
		if st.SID == p.PID {
			t.Errorf("daemon %d is still in the job's session; the test does not test detaching", pid)
		}
		if !slices.Contains(members, pid) {
			t.Errorf("daemon %d is not a member of the job (members %v)", pid, members)
		}
	}
	if err := p.Kill(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if st, err := readStat(pid); err == nil && st.State != 'Z' {
			t.Errorf("daemon %d survived the kill", pid)
		}
	}
	if p.Running() {
		t.Error("the job still runs after Kill")
	}
}

// TestMembersLeaveOthersAlone: another job's processes and this process are never members.
func TestMembersLeaveOthersAlone(t *testing.T) {
	t.Parallel()
	a, b := spec(t, "sleep 600\n"), spec(t, "sleep 600\n")
	pa, err := Start(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Start(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pb.Kill(10 * time.Second); pb.Wait() })
	if err := pa.Kill(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	pa.Wait()
	if !pb.Running() || !Alive(pb.PID, pb.StartTicks) {
		t.Error("killing one job hit another")
	}
	for _, m := range (Job{PID: os.Getpid(), Token: ""}).Members() {
		if m.pid == os.Getpid() {
			t.Error("the calling process is a member of a job")
		}
	}
}

// TestSnapshotAnswersEveryJob: one Scan tells the members of several jobs apart, including a detached process
// whose whole environment is the job's token, and Signal counts what it signalled.
func TestSnapshotAnswersEveryJob(t *testing.T) {
	t.Parallel()
	a := spec(t, "")
	a.Script = `( setsid bash -c 'echo $$ > "$1.tmp" && mv "$1.tmp" "$1"; exec env -i ` + TokenVar + `=$` + TokenVar + ` sleep 994' d ` +
		a.Dir + `/d >/dev/null 2>&1 & )
until [ -f ` + a.Dir + `/d ]; do sleep 0.01; done
`
	pa, err := Start(a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pa.Kill(10 * time.Second) })
	daemon := readPID(t, filepath.Join(a.Dir, "d"))
	if code := pa.Wait(); code != 0 {
		t.Fatalf("script exited %d", code)
	}
	pb, err := Start(spec(t, "sleep 600\n"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pb.Kill(10 * time.Second); pb.Wait() })
	// The daemon's exec of sleep may not have happened yet: until it has, its environment is bash's.
	deadline := time.Now().Add(10 * time.Second)
	for tok, _ := envToken(daemon); tok != pa.Token || len(Scan().Members(pb.Job)) == 0; tok, _ = envToken(daemon) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon %d token %q, want %q", daemon, tok, pa.Token)
		}
		time.Sleep(5 * time.Millisecond)
	}
	pids := func(ms []member) []int {
		var out []int
		for _, m := range ms {
			out = append(out, m.pid)
		}
		return out
	}
	snap := Scan()
	ma, mb := pids(snap.Members(pa.Job)), pids(snap.Members(pb.Job))
	if !slices.Equal(ma, []int{daemon}) {
		t.Errorf("members of the ended job = %v, want only its daemon %d", ma, daemon)
	}
	if len(mb) == 0 || slices.Contains(mb, daemon) || !slices.Contains(mb, pb.PID) {
		t.Errorf("members of the other job = %v: want its wrapper %d and not %d", mb, pb.PID, daemon)
	}
	if n, err := snap.Signal(pa.Job, 0); n != 1 || err != nil {
		t.Errorf("Signal(0) of the ended job = %d, %v; want 1 process", n, err)
	}
	if err := pa.Kill(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n, err := pa.Signal(0); n != 0 || err != nil {
		t.Errorf("Signal after Kill = %d, %v; want 0 processes", n, err)
	}
}
