//! The concurrent half of a backup: pack workers compress, encrypt and
//! pack new blobs; upload workers store the finished packs. The backup's
//! own thread chunks and hashes (it needs the ids, in order, for the trees;
//! small files are read ahead for it, see `read_ahead`) and decides what is
//! new.
//!
//! ```text
//! reader ──batches of blobs (bounded)──▶ pack workers ──packs (bounded)──▶ uploaders ──stored──▶ reader
//! ```
//! Small blobs travel in batches: one channel hand-off (and thread wake-up)
//! per small file cost more than compressing it.
//! Memory is bounded by the channel capacities: at most `2 × workers`
//! batches waiting, one pack being built per worker, one pack queued, and
//! one being uploaded per uploader. Pack buffers go back to a small pool once
//! uploaded, so the same few pack-sized buffers are used for the whole
//! backup instead of a fresh (and, with glibc, fragmenting) allocation per
//! pack.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use crate::backend::{Backend, FileKind};
use crate::blob::BlobType;
use crate::crypto::Keys;
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::index::IndexPack;
use crate::pack::{Pack, PackWriter};

/// A new blob to store.
pub(super) struct BlobJob {
    pub blob_type: BlobType,
    pub id: Id,
    pub plaintext: Vec<u8>,
}

/// A pack that is stored.
pub(super) struct StoredPack {
    pub index: IndexPack,
    pub bytes: u64,
}

/// The first error any thread hit; once set, every thread stops working
/// and only drains its input so nobody blocks.
#[derive(Default)]
pub(super) struct Failure {
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl Failure {
    fn set(&self, error: Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(error);
        self.failed.store(true, Ordering::SeqCst);
    }

    fn is_set(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    fn take(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// How many threads of each kind.
#[derive(Debug, Clone, Copy)]
pub(super) struct Threads {
    pub pack_workers: usize,
    pub uploaders: usize,
}

/// A batch is sent once it holds this many bytes of plaintext…
const BATCH_BYTES: usize = 128 << 10;
/// …or this many blobs.
const BATCH_BLOBS: usize = 32;

pub(super) struct Pipeline<'scope> {
    blobs: Option<Sender<Vec<BlobJob>>>,
    batch: Vec<BlobJob>,
    batch_bytes: usize,
    stored: Receiver<StoredPack>,
    failure: &'scope Failure,
    handles: Vec<ScopedJoinHandle<'scope, ()>>,
}

impl<'scope> Pipeline<'scope> {
    /// `pack_size` limits a pack; `pack_capacity` is what a pack buffer is
    /// allocated with (enough for a full pack, or for one largest chunk).
    pub(super) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        keys: &Keys,
        backend: Arc<dyn Backend>,
        pack_size: usize,
        pack_capacity: usize,
        threads: Threads,
        failure: &'env Failure,
    ) -> Pipeline<'scope> {
        let (blob_tx, blob_rx) = bounded::<Vec<BlobJob>>(2 * threads.pack_workers);
        // One finished pack may wait for an uploader: enough to keep the
        // workers busy while the uploads wait on the service, and each
        // waiting pack is a pack-sized buffer of memory.
        let (pack_tx, pack_rx) = bounded::<Pack>(1);
        let (stored_tx, stored_rx) = unbounded::<StoredPack>();
        let (pool_tx, pool_rx) = bounded::<Vec<u8>>(threads.pack_workers + threads.uploaders + 1);
        let mut handles = Vec::new();
        for _ in 0..threads.pack_workers {
            let (rx, tx, keys) = (blob_rx.clone(), pack_tx.clone(), keys.clone());
            let pool = BufferPool {
                free: pool_rx.clone(),
                capacity: pack_capacity,
            };
            handles.push(scope.spawn(move || pack_worker(&keys, pack_size, &pool, rx, tx, failure)));
        }
        for _ in 0..threads.uploaders {
            let (rx, tx, backend) = (pack_rx.clone(), stored_tx.clone(), backend.clone());
            let pool = pool_tx.clone();
            handles.push(scope.spawn(move || upload_worker(&*backend, rx, tx, &pool, failure)));
        }
        Pipeline {
            blobs: Some(blob_tx),
            batch: Vec::new(),
            batch_bytes: 0,
            stored: stored_rx,
            failure,
            handles,
        }
    }

    fn error(&self) -> Error {
        self.failure.take().unwrap_or_else(|| {
            Error::new(ErrorKind::Storage, "the backup pipeline stopped")
        })
    }

    /// Queues a new blob; blocks while the workers are busy.
    ///
    /// # Errors
    /// The first error a worker hit (e.g. an upload that failed).
    pub(super) fn send(&mut self, job: BlobJob) -> Result<()> {
        if self.failure.is_set() {
            return Err(self.error());
        }
        self.batch_bytes += job.plaintext.len();
        self.batch.push(job);
        if self.batch_bytes >= BATCH_BYTES || self.batch.len() >= BATCH_BLOBS {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the waiting batch to the workers.
    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let sender = self.blobs.as_ref().expect("pipeline is open");
        sender.send(batch).map_err(|_| self.error())
    }

    /// Packs stored since the last call, without waiting.
    pub(super) fn stored(&self) -> Vec<StoredPack> {
        self.stored.try_iter().collect()
    }

    /// Flushes the partly filled packs, waits for every upload and returns
    /// the packs stored since the last [`Pipeline::stored`].
    ///
    /// # Errors
    /// The first error a worker hit.
    pub(super) fn finish(mut self) -> Result<Vec<StoredPack>> {
        if !self.failure.is_set() {
            // On failure the workers' error is returned below.
            let _ = self.flush();
        }
        drop(self.blobs.take());
        let stored: Vec<StoredPack> = self.stored.iter().collect();
        for handle in self.handles.drain(..) {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        match self.failure.take() {
            Some(e) => Err(e),
            None => Ok(stored),
        }
    }
}

impl Drop for Pipeline<'_> {
    /// On an early return, stop the workers: they drain their inputs and
    /// exit once the senders are gone.
    fn drop(&mut self) {
        if self.blobs.is_some() {
            self.failure.failed.store(true, Ordering::SeqCst);
            drop(self.blobs.take());
        }
    }
}

/// Pack buffers given back by the uploaders.
struct BufferPool {
    free: Receiver<Vec<u8>>,
    capacity: usize,
}

impl BufferPool {
    fn take(&self) -> Vec<u8> {
        self.free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.capacity))
    }
}

fn pack_worker(
    keys: &Keys,
    pack_size: usize,
    pool: &BufferPool,
    blobs: Receiver<Vec<BlobJob>>,
    packs: Sender<Pack>,
    failure: &Failure,
) {
    let mut writer: Option<PackWriter> = None;
    for job in blobs.iter().flatten() {
        if failure.is_set() {
            continue;
        }
        // Close the pack before a blob would take it past `pack_size`, so
        // a pooled buffer never has to grow (only a pack of one blob larger
        // than `pack_size` does).
        if let Some(w) = &writer {
            if !w.is_empty() && w.size_with(job.plaintext.len()) > pack_size {
                let pack = writer.take().expect("writer exists").finish();
                if packs.send(pack).is_err() {
                    return;
                }
            }
        }
        let w = writer.get_or_insert_with(|| PackWriter::with_buffer(keys, pool.take()));
        w.add(job.blob_type, &job.id, &job.plaintext);
    }
    if let Some(w) = writer {
        if !w.is_empty() && !failure.is_set() {
            let _ = packs.send(w.finish());
        }
    }
}

/// A pack buffer lent to the backend; given back to the pool when dropped.
struct Pooled {
    bytes: Vec<u8>,
    pool: Sender<Vec<u8>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // A full pool means enough buffers are about: drop this one.
        let _ = self.pool.try_send(std::mem::take(&mut self.bytes));
    }
}

fn upload_worker(
    backend: &dyn Backend,
    packs: Receiver<Pack>,
    stored: Sender<StoredPack>,
    pool: &Sender<Vec<u8>>,
    failure: &Failure,
) {
    for pack in packs {
        if failure.is_set() {
            continue;
        }
        let len = pack.bytes.len() as u64;
        let index = IndexPack::from(&pack);
        // Shared with the backend (no copy to send it); the buffer goes back
        // to the pool when the last clone is dropped.
        let shared = bytes::Bytes::from_owner(Pooled {
            bytes: pack.bytes,
            pool: pool.clone(),
        });
        match backend.put_shared(FileKind::Pack, &pack.id, shared) {
            Ok(()) => {
                let _ = stored.send(StoredPack { index, bytes: len });
            }
            Err(e) => failure.set(e),
        }
    }
}
