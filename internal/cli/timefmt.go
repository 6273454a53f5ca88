package cli

import (
	"fmt"
	"strings"
	"time"
)

// RelativeTime says how long before now t was, in the words of SkyPilot's LAUNCHED and SUBMITTED columns:
// "a few secs ago", "1 min ago", "2 mins ago", "1 hr ago", "3 days ago", "2 weeks ago", "1 month ago". Only the
// largest unit is kept. A zero t prints "-"; a t after now reads "in 2 mins".
func RelativeTime(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	if d < time.Second {
		return "< 1 sec"
	}
	var phrase string
	if d < 10*time.Second {
		phrase = "a few secs"
	} else {
		n, unit := largestUnit(d)
		phrase = plural(n, unit)
	}
	if future {
		return "in " + phrase
	}
	return phrase + " ago"
}

func largestUnit(d time.Duration) (int64, string) {
	const day = 24 * time.Hour
	switch {
	case d >= 365*day:
		return int64(d / (365 * day)), "year"
	case d >= 30*day:
		return int64(d / (30 * day)), "month"
	case d >= 7*day:
		return int64(d / (7 * day)), "week"
	case d >= day:
		return int64(d / day), "day"
	case d >= time.Hour:
		return int64(d / time.Hour), "hr"
	case d >= time.Minute:
		return int64(d / time.Minute), "min"
	}
	return int64(d / time.Second), "sec"
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// FormatDuration writes d compactly with every non-zero unit, as SkyPilot's DURATION column: "5s", "1m 5s",
// "2h 3s" (zero units are left out), "1w 2d 3h". Under a second prints "< 1s"; a negative duration prints "-".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	if d < time.Second {
		return "< 1s"
	}
	units := []struct {
		size time.Duration
		name string
	}{
		{7 * 24 * time.Hour, "w"}, {24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"},
	}
	var parts []string
	for _, u := range units {
		if n := d / u.size; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.size
		}
	}
	return strings.Join(parts, " ")
}
