package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrAborted is returned when the user declined a confirmation or closed standard input instead of answering.
var ErrAborted = errors.New("aborted")

// Confirm asks a yes/no question on stderr and reads the answer from stdin; an empty answer takes def.
// It never prompts when the user cannot answer (stdin or stderr not a terminal): it fails with a usage error
// that tells the user to pass -y/--yes, so scripts never hang on a hidden question.
func Confirm(s *IOStreams, question string, def bool) (bool, error) {
	if !s.CanPrompt() {
		return false, FlagErrorf("%s\ncannot ask for confirmation: not running interactively; pass -y/--yes to proceed", question)
	}
	hint := " [y/N]: "
	if def {
		hint = " [Y/n]: "
	}
	r := bufio.NewReader(s.In)
	for {
		fmt.Fprint(s.ErrOut, question+hint)
		line, err := r.ReadString('\n')
		answer := strings.ToLower(strings.TrimSpace(line))
		switch answer {
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		case "":
			if err == nil {
				return def, nil
			}
		}
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(s.ErrOut)
			return false, ErrAborted
		}
		if err != nil {
			return false, fmt.Errorf("read answer: %w", err)
		}
		fmt.Fprintln(s.ErrOut, "Please answer y or n.")
	}
}

// ConfirmOrAbort asks question with "yes" as the default, as SkyPilot's click.confirm(abort=True) does: a "no" (or
// a closed stdin) prints "Aborted." and ends the command with exit 1. Off a terminal it fails like Confirm.
func ConfirmOrAbort(s *IOStreams, question string) error {
	ok, err := Confirm(s, question, true)
	if err != nil && !errors.Is(err, ErrAborted) {
		return err
	}
	if !ok {
		fmt.Fprintln(s.ErrOut, "Aborted.")
		return SilentExit(ExitFailure)
	}
	return nil
}
