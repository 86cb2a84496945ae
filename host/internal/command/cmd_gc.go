package command

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shammie-ml/shammie/host/internal/runstore"
)

func init() {
	register(&command{
		name:    "gc",
		summary: "Free space in the run store: stale temporary files, old runs, work dirs, unreferenced objects.",
		usage:   "[flags]",
		detail: `Always removes what crashed hosts left in <store>/tmp (older than an hour)
and every artifact object that no cache entry and no remaining run refers to
(objects younger than an hour are kept: a running host may be storing them).
--older-than removes whole finished runs that started longer ago (their
cached results stay usable as long as their objects are referenced by the
cache). --work removes the plugins' work dirs of finished runs: artifacts
are in the object store, records, events and metrics stay.`,
		example: "  shammie gc --dry-run\n  shammie gc --older-than 30d --work",
		run:     runGC,
	})
}

func runGC(_ context.Context, env *Env, args []string) error {
	c := lookup("gc")
	fs := newFlags(env, c)
	storeDir := fs.String("store", runstore.DefaultDir, "run store directory")
	olderThan := fs.String("older-than", "", "remove finished runs older than this (e.g. 30d, 12h)")
	work := fs.Bool("work", false, "remove the work dirs of finished runs")
	dryRun := fs.Bool("dry-run", false, "only say what would be removed")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("gc takes no arguments")
	}
	var age time.Duration
	if *olderThan != "" {
		if age, err = parseAge(*olderThan); err != nil || age <= 0 {
			return usagef("--older-than %q: want a positive duration like 30d or 12h", *olderThan)
		}
	}
	store, err := openStore(env, *storeDir)
	if err != nil {
		return err
	}
	rep, err := store.GC(runstore.GCOptions{OlderThan: age, WorkDirs: *work, DryRun: *dryRun})
	verb := "Removed"
	if *dryRun {
		verb = "Would remove"
	}
	fmt.Fprintf(env.Stdout, "%s %d run(s), %d work dir(s), %d object(s), %d temporary file(s): %.1f MB.\n",
		verb, rep.Runs, rep.WorkDirs, rep.Objects, rep.TmpFiles, float64(rep.Bytes)/1e6)
	return err
}

// parseAge is time.ParseDuration with days ("30d").
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		return time.Duration(n * 24 * float64(time.Hour)), err
	}
	return time.ParseDuration(s)
}
