// Package procowner names temporary things after the process that makes
// them: "<pid>-<starttime>-…", starttime being the process start time from
// /proc/<pid>/stat. Leftovers of a dead process can then be told from work
// still in progress, even when the pid has been reused.
package procowner
