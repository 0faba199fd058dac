//! Reading small files ahead of the walk. Cold, a backup of many small
//! files waits on the disk for each one; a few reader threads keep several
//! reads in flight while the backup's thread chunks the files in walk order
//! (so trees and snapshots stay the same).
//!
//! ```text
//! backup thread ──(file, size)──▶ readers ──bytes (one slot per file)──▶ backup thread
//! ```
//! Only files the backup would read anyway are handed over (the file cache
//! is asked first, on the backup's thread), and only files below
//! [`SMALL_FILE`]; larger files are streamed by the backup's thread as
//! before. Memory is bounded by [`AHEAD_BYTES`] and [`AHEAD_FILES`].

use std::fs::File;
use std::io::{self, Read};
use std::thread::Scope;

use crossbeam_channel::{bounded, Receiver, Sender};

/// Files smaller than this are read whole by a reader thread.
pub(super) const SMALL_FILE: u64 = 1 << 20;
/// At most this many files are opened ahead of the one being stored…
pub(super) const AHEAD_FILES: usize = 64;
/// …and at most this many bytes of them read (or being read) ahead.
pub(super) const AHEAD_BYTES: u64 = 8 << 20;
/// Reader threads: they mostly wait on the disk, so more than the cores.
const READERS: usize = 6;

/// A file's contents read by a reader thread, and the file to read any
/// remainder from (it may have grown since it was opened).
pub(super) type ReadResult = io::Result<(Vec<u8>, File)>;

struct ReadJob {
    file: File,
    /// Allocated by the backup's thread: with glibc, buffers allocated by
    /// the readers would each keep an arena of their own alive.
    buffer: Vec<u8>,
    done: Sender<ReadResult>,
}

/// The reader threads; they stop once this is dropped.
pub(super) struct Readers {
    jobs: Sender<ReadJob>,
}

impl Readers {
    pub(super) fn start<'scope>(scope: &'scope Scope<'scope, '_>) -> Readers {
        let (jobs, rx) = bounded::<ReadJob>(AHEAD_FILES);
        for _ in 0..READERS {
            let rx: Receiver<ReadJob> = rx.clone();
            scope.spawn(move || {
                for job in rx {
                    // The backup may have stopped waiting for it.
                    let _ = job.done.send(read_small(job.file, job.buffer));
                }
            });
        }
        Readers { jobs }
    }

    /// Starts reading `file` (of `size` bytes when opened); the returned
    /// slot gets its contents.
    pub(super) fn read(&self, file: File, size: u64) -> Receiver<ReadResult> {
        let (done, slot) = bounded(1);
        let buffer = Vec::with_capacity(usize::try_from(size).map_or(0, |n| n.saturating_add(1)));
        let job = ReadJob { file, buffer, done };
        if let Err(unsent) = self.jobs.send(job) {
            // Only when every reader is gone (one panicked): read here.
            let job = unsent.into_inner();
            let _ = job.done.send(read_small(job.file, job.buffer));
        }
        slot
    }
}

fn read_small(file: File, mut bytes: Vec<u8>) -> ReadResult {
    (&file).take(SMALL_FILE).read_to_end(&mut bytes)?;
    Ok((bytes, file))
}
