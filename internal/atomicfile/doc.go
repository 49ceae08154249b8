// Package atomicfile writes files so that a reader, or a process restarted
// after a crash, sees either the old content or the new, never a mix: write
// to a temporary file beside the target, fsync it, rename it over the
// target, fsync the directory.
package atomicfile
