package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/stix-run/stix/internal/atomicfile"
)

// Autostop is carried out by the agents themselves, with nothing from the client on the node: when the idle
// timer fires, the head asks every worker to end its node (POST /v1/shutdown), then ends its own. Ending a node
// is: leave the mark (AutostopMarkFile), end the job processes, stop serving, and end as the cluster's NodeExit
// says. What a node cannot do itself (remove a container, release a host) the client finishes when it next
// looks at the cluster (docs/autostop.md).

var errStopping = fmt.Errorf("%w: autostop is stopping the cluster", ErrConflict)

// validExit checks a NodeExit; empty is allowed where the caller keeps or sets "cannot stop".
func validExit(e NodeExit, emptyOK bool) error {
	switch {
	case e == ExitAgent, e == ExitContainer, e == ExitPoweroff, e == ExitRequest, e == "" && emptyOK:
		return nil
	}
	return fmt.Errorf("%w: exit %q: want %q, %q, %q or %q", ErrInvalid, e, ExitAgent, ExitContainer, ExitPoweroff, ExitRequest)
}

// selfStop is the autostop timer's action: it stops the whole cluster, workers first. It returns at once.
func (h *head) selfStop(down bool, exit NodeExit) {
	h.mu.Lock()
	h.stopping = true
	var workers []*Client
	for _, n := range h.nodes {
		if c, ok := n.(*Client); ok {
			workers = append(workers, c)
		}
	}
	h.mu.Unlock()
	h.a.log.Info("autostop: idle time reached, stopping the cluster", "down", down, "exit", exit, "workers", len(workers))
	req := ShutdownRequest{Down: down, Exit: exit}
	go func() {
		var wg sync.WaitGroup
		for _, c := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A worker that does not answer keeps running; status -r shows the cluster INIT, naming it.
				if err := c.Shutdown(h.ctx, req); err != nil {
					h.a.log.Error("autostop: a worker did not stop", "err", err)
				}
			}()
		}
		wg.Wait()
		if err := h.a.shutdown(req); err != nil {
			h.a.log.Error("autostop: stop this node", "err", err)
		}
	}()
}

// shutdown ends this node for autostop: it leaves the mark, ends every job process and makes Serve return,
// which then ends the node as req.Exit says (endNode). The caller's answer is sent before the agent exits.
func (a *agent) shutdown(req ShutdownRequest) error {
	if err := validExit(req.Exit, false); err != nil {
		return err
	}
	action := "stop"
	if req.Down {
		action = "down"
	}
	if err := atomicfile.Write(filepath.Join(a.dir, AutostopMarkFile), []byte(action+"\n"), 0o644); err != nil {
		return fmt.Errorf("write the autostop mark: %w", err)
	}
	if err := killJobs(a.dir); err != nil {
		a.log.Warn("autostop: end job processes", "err", err)
	}
	a.exitMu.Lock()
	a.exit = req.Exit
	a.exitMu.Unlock()
	a.log.Info("autostop: this node stops", "action", action, "exit", req.Exit)
	a.cancel()
	return nil
}

func (a *agent) exitAction() NodeExit {
	a.exitMu.Lock()
	defer a.exitMu.Unlock()
	return a.exit
}

// endNode does what is left once Serve has stopped: with ExitContainer, end the container; with ExitPoweroff,
// power the machine off; with ExitRequest, send the requests that end the cluster (sendExitRequests).
func (a *agent) endNode(exit NodeExit) error {
	if exit == ExitRequest {
		// Jobs and workers have ended: the cloud may now take the machines away.
		if err := a.sendExitRequests(context.Background()); err != nil {
			return fmt.Errorf("autostop: end the cluster through the cloud's API: %w (the cluster keeps running: `stix down` ends it)", err)
		}
		return nil
	}
	if exit == ExitPoweroff {
		off := a.powerOff
		if off == nil {
			off = powerOff
		}
		if err := off(); err != nil {
			return fmt.Errorf("autostop: power the machine off: %w", err)
		}
		return nil
	}
	if exit != ExitContainer {
		return nil
	}
	end := a.endContainer
	if end == nil {
		end = signalInit
	}
	if err := end(); err != nil {
		return fmt.Errorf("autostop: end the container: %w", err)
	}
	return nil
}

// signalInit asks the container's init process to end, which stops the container: docker-init (tini) forwards
// SIGTERM to the container's main process and exits with it. It runs as the container's user, as the agent does.
func signalInit() error {
	err := syscall.Kill(1, syscall.SIGTERM)
	if errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("signal PID 1: %w (the container's init runs as another user than the agent)", err)
	}
	return err
}

// powerOff runs `shutdown -h now` from PATH, through `sudo -n` unless the agent is root (cloud images give their
// login user passwordless sudo): the cloud then stops or terminates the VM, as it was told at launch.
func powerOff() error {
	argv := []string{"shutdown", "-h", "now"}
	if os.Geteuid() != 0 {
		argv = append([]string{"sudo", "-n"}, argv...)
	}
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (a *agent) handleShutdown(w http.ResponseWriter, r *http.Request) {
	var req ShutdownRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := a.shutdown(req); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
