// Package watcher finds the files in one inbox folder that are ready to be
// signed and hands them to a callback: one at a time (Run), or the ones found
// in one round of looks together (RunGroups).
//
// File events (fsnotify) are hints only; a directory scan is the truth. The
// watcher scans at start-up, every Config.ScanInterval, after any event error
// or queue overflow, and whenever Rescan is called. When events are
// unavailable (the watch cannot be set up, as on many network shares, or
// Config.NoEvents is set) scans are the only source and Err says why. An
// event for a path makes the watcher look at that path, never rescan.
//
// # Network shares
//
// Files written by another machine to an SMB or NFS share, or under a
// user-space (FUSE) file system, raise no file event here even when the
// watch is set up. Run tells such folders apart (DetectFS, Info) and scans
// them every DefaultNetworkScanInterval unless Config.ScanInterval says
// otherwise; local folders keep DefaultScanInterval. A file that a scan finds
// while events are on, and that no event had named, is counted
// (Info.Unreported), and the first one is logged: "events are not arriving
// for this folder; relying on scans".
//
// # Scans
//
// A deep scan lists every directory and looks at every file; the watcher
// makes one at start-up, after Rescan, an event error or overflow, and at
// least every minute. The scans in between are shallow and cheap: a
// directory whose modification time, size (and, on Linux, change time, inode
// and link count) are the same as when it was last listed is not listed
// again, provided that stamp had been quiet for two seconds before that
// listing (so a change within the same timestamp tick cannot hide) and the
// file system keeps directory stamps current (not NFS, whose clients cache
// them); and a file already reported that the callback left in place,
// unchanged, is not looked at again. So a frequent scan of an unchanged
// share costs one stat per directory, and a backlog the agent cannot take
// is not read again on every pass.
//
// # Ready
//
// A file is ready when two looks at it at least Config.Settle apart (by
// Config.Clock) find the same size and modification time, it is not empty (an
// empty file is reported only once it has stayed empty for
// Config.EmptyGrace, so the agent can fail it with EMPTY_FILE), its name is
// not on the fixed ignore list (Ignored), it matches the include patterns and
// none of the exclude patterns (Match), and, on Windows, nobody else holds it
// open without sharing. In done-marker mode it is ready only while
// "{name}.done" exists beside it; the marker is never reported itself.
//
// On Linux, in a local folder with file events and without done markers,
// the kernel also says when a writer closes a file it wrote
// (IN_CLOSE_WRITE) and when a file is renamed into the folder (IN_MOVED_TO,
// the way producers are asked to deliver). Such a file gets a short look
// closeQuiet (100 ms, or Settle if shorter) after that event, and is ready
// then if its size and modification time are those seen at the event and
// the kernel grants a
// read lease on it, which it does only while nobody holds the file open for
// writing. So a second writer still at work, or a writer that reopened the
// file, keeps it waiting; so does a file whose lease cannot be asked for
// (leases are for the file's owner or a process with CAP_LEASE): for those,
// and everywhere else, Settle stays the rule. Network shares never take
// the short way: their writers are on other machines.
//
// Only regular files are reported. A symbolic link to a regular file is
// reported like a regular file (File.Path is the link; Size and ModTime are
// the target's). Symbolic links to directories are never followed, so
// recursive mode cannot loop. Directories whose name starts with a dot are
// never entered; that keeps the agent's claim area (inbox/.signagent) out.
// In recursive mode a sub-directory whose name or relative path matches an
// exclude pattern is not entered either.
//
// # Scale
//
// Directories are read in chunks and the set of files waiting for their
// second look is bounded: a scan pauses while that set is full and resumes
// as files are reported, so a backlog of any size starts flowing about one
// Settle after start-up and memory stays flat. Waiting files get their second
// look as soon as it is due, not at the next scan.
//
// # Reports
//
// Run calls the callback from its own goroutine, synchronously: a callback
// that blocks holds back further reports (back-pressure). A file that is
// still in the inbox, unchanged, at a later deep scan may be reported again;
// one that changed while the callback held it gets its next look at once.
// The agent claims what it takes (moving it out of the inbox) and
// de-duplicates the rest.
package watcher
